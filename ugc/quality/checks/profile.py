"""One scan per event table that several checks share (computed once per run, on demand).

Per table, over the window: rows, distinct event ids, duplicated ids and extra copies
(``GROUP BY event_id``), rows with an empty required column (and per column), and the
newest ``received_at`` / ``loaded_at``. Duplicates, completeness, freshness and the
dead-letter rate read it, so the biggest tables are read once, not four times.
"""

from __future__ import annotations

from dataclasses import dataclass

from ugc.events.columns import Column, table_columns
from ugc.quality.checks.base import Scope

ZERO_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class Profile:
    event_type: str
    table: str
    rows: int
    ids: int
    duplicate_ids: int
    extra_copies: int
    missing_rows: int
    #: required column -> rows where it is empty
    missing: dict[str, int]
    newest_received: int
    newest_loaded: int


def empty_condition(column: Column) -> str:
    """SQL that is true when ``column`` holds no value."""
    name = column.name
    if column.logical == "uuid":
        test = f"{name} = toUUID('{ZERO_UUID}')"
    elif column.logical == "ts":
        test = f"toUnixTimestamp({name}) = 0"
    elif column.logical in ("string", "lowcard"):
        test = f"{name} = ''"
    elif column.logical == "strings":
        test = f"empty({name})"
    else:
        test = "0"
    return f"({name} IS NULL OR {test})" if column.nullable else test


def profile_sql(scope: Scope) -> str:
    parts = []
    for event_type in scope.event_types():
        columns = {c.name: c for c in table_columns(event_type)}
        names = scope.not_empty.get(event_type.name, [])
        tests = [empty_condition(columns[name]) for name in names] or ["0"]
        per_id = ", ".join(f"countIf({t}) AS m{i}" for i, t in enumerate(tests))
        parts.append(
            f"SELECT '{event_type.name}' AS event_type, sum(n), count(), countIf(n > 1), "
            f"sumIf(n - 1, n > 1), sum(m_any), [{', '.join(f'sum(m{i})' for i in range(len(tests)))}], "
            "max(r), max(l) FROM ("
            f"SELECT event_id, count() AS n, countIf({' OR '.join(tests)}) AS m_any, {per_id}, "
            "toUnixTimestamp(max(received_at)) AS r, toUnixTimestamp(max(loaded_at)) AS l "
            f"FROM {event_type.table} WHERE {scope.in_window()} GROUP BY event_id)"
        )
    return " UNION ALL ".join(parts)


def profiles(scope: Scope) -> dict[str, Profile]:
    """The per-table profiles of this run (queried the first time a check asks)."""
    if scope.cache.get("profiles") is None:
        found = {}
        if scope.event_types():
            tables = {t.name: t.table for t in scope.event_types()}
            for name, rows, ids, dups, extra, m_any, missing, r, loaded in scope.warehouse.query(
                profile_sql(scope), scope.bounds
            ):
                names = scope.not_empty.get(name, [])
                found[name] = Profile(
                    event_type=name,
                    table=tables[name],
                    rows=int(rows or 0),
                    ids=int(ids or 0),
                    duplicate_ids=int(dups or 0),
                    extra_copies=int(extra or 0),
                    missing_rows=int(m_any or 0),
                    missing={c: int(v) for c, v in zip(names, missing, strict=False)},
                    newest_received=int(r or 0),
                    newest_loaded=int(loaded or 0),
                )
        scope.cache["profiles"] = found
    return scope.cache["profiles"]
