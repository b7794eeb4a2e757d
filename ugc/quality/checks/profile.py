"""One scan per event table that several checks share (computed once per run, on demand).

Per table, over the window: rows, distinct event ids (counted over 64-bit hashes, which is
cheap; only a table with fewer distinct hashes than rows is grouped by the real id, which
gives the exact duplicated ids and extra copies), rows with an empty
required column (and per column), and the newest ``received_at`` / ``loaded_at``. Duplicates, completeness, freshness and the
dead-letter rate read it, so the biggest tables are read once, not four times.
"""

from __future__ import annotations

from dataclasses import dataclass

from ugc.events import EventType
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
        test = f"{name} <= toDateTime(0, 'UTC')"
    elif column.logical in ("string", "lowcard", "strings"):
        test = f"empty({name})"
    else:
        test = "0"
    return f"({name} IS NULL OR {test})" if column.nullable else test


def _tests(scope: Scope, event_type: EventType) -> list[str]:
    columns = {c.name: c for c in table_columns(event_type)}
    names = scope.not_empty.get(event_type.name, [])
    return [empty_condition(columns[name]) for name in names] or ["0"]


def profile_sql(scope: Scope) -> str:
    """Flat aggregates only (one hash set, for the distinct ids): cheap on every table."""
    return " UNION ALL ".join(
        f"SELECT '{t.name}' AS event_type, count(), "
        "uniqExact(cityHash64(reinterpretAsString(event_id))), "
        f"countIf({' OR '.join(_tests(scope, t))}), "
        "toUnixTimestamp(max(received_at)), toUnixTimestamp(max(loaded_at)) "
        f"FROM {t.table} WHERE {scope.in_window()}"
        for t in scope.event_types()
    )


def missing_sql(scope: Scope, event_type: EventType) -> str:
    """Rows per empty required column (only for a table that has some)."""
    tests = _tests(scope, event_type)
    return (
        f"SELECT {', '.join(f'countIf({t})' for t in tests)} "
        f"FROM {event_type.table} WHERE {scope.in_window()}"
    )


def duplicated_ids_sql(table: str, scope: Scope) -> str:
    """Ids stored more than once and their extra copies, exactly (run only for a table whose
    rows exceed its distinct id hashes)."""
    return (
        f"SELECT count(), sum(n - 1) FROM (SELECT event_id, count() AS n FROM {table} "
        f"WHERE {scope.in_window()} GROUP BY event_id HAVING n > 1)"
    )


def profiles(scope: Scope) -> dict[str, Profile]:
    """The per-table profiles of this run (queried the first time a check asks)."""
    if scope.cache.get("profiles") is None:
        found = {}
        if scope.event_types():
            types = {t.name: t for t in scope.event_types()}
            tables = {name: t.table for name, t in types.items()}
            for name, rows, ids, m_any, r, loaded in scope.warehouse.query(
                profile_sql(scope), scope.bounds
            ):
                names = scope.not_empty.get(name, [])
                rows, ids = int(rows or 0), int(ids or 0)
                dups, extra = 0, 0
                if rows > ids:
                    dups, extra = scope.warehouse.query(
                        duplicated_ids_sql(tables[name], scope), scope.bounds
                    )[0]
                    dups, extra = int(dups or 0), int(extra or 0)
                missing = [0] * len(names)
                if m_any:
                    missing = scope.warehouse.query(missing_sql(scope, types[name]), scope.bounds)[
                        0
                    ]
                found[name] = Profile(
                    event_type=name,
                    table=tables[name],
                    rows=rows,
                    ids=rows - extra,
                    duplicate_ids=dups,
                    extra_copies=extra,
                    missing_rows=int(m_any or 0),
                    missing={c: int(v) for c, v in zip(names, missing, strict=False)},
                    newest_received=int(r or 0),
                    newest_loaded=int(loaded or 0),
                )
        scope.cache["profiles"] = found
    return scope.cache["profiles"]
