"""Duplicates: event_ids stored more than once in a raw ``events_<type>`` table.

Runs on the raw tables (the ``v_events_<type>`` views hide duplicates by design). Two kinds,
told apart by the copies' Kafka positions in ``where``: the same message loaded twice (same
partition and offset; merges collapse it eventually) and the same event published twice
(different offsets: a producer or client retry, kept for good).
"""

from __future__ import annotations

from typing import Any

from ugc.quality.checks.base import SAMPLE, Finding, Scope
from ugc.quality.checks.profile import profiles

COLUMNS = ("event_type", "table", "rows", "ids", "duplicate_ids", "extra_copies")


def sample_sql(table: str, scope: Scope) -> str:
    """Where the first duplicated ids of one table sit in Kafka."""
    return (
        "SELECT toString(event_id), kafka_partition, kafka_offset, load_run_id "
        f"FROM {table} WHERE {scope.in_window()} AND event_id IN ("
        f"SELECT event_id FROM {table} WHERE {scope.in_window()} "
        f"GROUP BY event_id HAVING count() > 1 ORDER BY event_id LIMIT {SAMPLE}) "
        "ORDER BY event_id, kafka_partition, kafka_offset"
    )


def frame(rows: list[tuple[Any, ...]], tables: dict[str, str]) -> Any:
    import pandas as pd

    records = [
        {
            "event_type": name,
            "table": tables[name],
            "rows": int(total or 0),
            "ids": int(ids or 0),
            "duplicate_ids": int(dups or 0),
            "extra_copies": int(extra or 0),
        }
        for name, total, ids, dups, extra in sorted(rows)
    ]
    return pd.DataFrame.from_records(records, columns=list(COLUMNS))


def locate(table: str, rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Group sample rows by id: ``{"table", "event_id", "copies": [{partition, offset}]}``."""
    found: dict[str, dict[str, Any]] = {}
    for event_id, partition, offset, run_id in rows:
        entry = found.setdefault(
            event_id, {"table": table, "event_id": event_id, "copies": [], "kind": ""}
        )
        entry["copies"].append(
            {"partition": int(partition), "offset": int(offset), "load_run_id": run_id}
        )
    for entry in found.values():
        positions = {(c["partition"], c["offset"]) for c in entry["copies"]}
        entry["kind"] = "reloaded" if len(positions) < len(entry["copies"]) else "republished"
    return list(found.values())


def run(scope: Scope, suite: Any) -> Finding:
    found = profiles(scope)
    tables = {name: p.table for name, p in found.items()}
    rows = [(p.event_type, p.rows, p.ids, p.duplicate_ids, p.extra_copies) for p in found.values()]
    result = frame(rows, tables)
    where: list[dict[str, Any]] = []
    for record in result.itertuples():
        if record.duplicate_ids:
            sample = scope.warehouse.query(sample_sql(record.table, scope), scope.bounds)
            where.append(
                {
                    "table": record.table,
                    "duplicate_ids": int(record.duplicate_ids),
                    "extra_copies": int(record.extra_copies),
                    "sample": locate(record.table, sample),
                }
            )
    summary = {
        "duplicate_ids": int(result["duplicate_ids"].sum()),
        "extra_copies": int(result["extra_copies"].sum()),
        "tables": [w["table"] for w in where],
    }
    return Finding(result, where, summary)
