"""Build and read one month of marts.

A build replaces the month: each mart table is partitioned by month, so the month's
partition is dropped and filled again by ``INSERT ... SELECT`` (both servers support it;
readers may see the month empty for the moment in between). Building a month twice gives the
same rows; other months are untouched.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import orjson

from ugc.adapters.clickhouse import Warehouse, WarehouseQueryError
from ugc.errors import BadInput, WarehouseUnavailable
from ugc.log import get_logger
from ugc.marts.definitions import BUILDS_TABLE, DEDUP_WINDOWS, MARTS, dups_sql, dups_table
from ugc.marts.month import Month

log = get_logger("ugc.marts")


def build_month(warehouse: Warehouse, month: Month) -> dict[str, Any]:
    """Rebuild every mart for ``month``; return what was built (rows per mart, seconds)."""
    started = time.perf_counter()
    params = month.params()
    rows: dict[str, int] = {}
    seconds: dict[str, float] = {}
    with _translated("build"):
        _require_tables(warehouse)
        with _duplicate_sets(warehouse, params):
            for mart in MARTS:
                began = time.perf_counter()
                _drop_month(warehouse, mart.table, month)
                warehouse.execute(mart.insert, params)
                rows[mart.name] = int(
                    warehouse.scalar(
                        f"SELECT count() FROM {mart.table} WHERE month = toDate(%(month)s)", params
                    )
                    or 0
                )
                seconds[mart.name] = round(time.perf_counter() - began, 3)
        source = int(
            warehouse.scalar(
                "SELECT sum(events) FROM mart_daily WHERE month = toDate(%(month)s) "
                "AND event_type = '*'",
                params,
            )
            or 0
        )
        took = round(time.perf_counter() - started, 3)
        build_id = f"m-{month}-{uuid.uuid4().hex[:8]}"
        built_at = datetime.now(UTC)
        _drop_month(warehouse, BUILDS_TABLE, month)
        warehouse.execute(
            f"INSERT INTO {BUILDS_TABLE} "
            "(month, build_id, built_at, source_events, seconds, row_counts) "
            "SELECT toDate(%(month)s), %(build_id)s, toDateTime(%(built_at)s, 'UTC'), "
            "%(source)s, %(seconds)s, %(rows)s",
            {
                **params,
                "build_id": build_id,
                "built_at": int(built_at.timestamp()),
                "source": source,
                "seconds": float(took),
                "rows": orjson.dumps(rows).decode(),
            },
        )
    log.info("marts built", extra={"month": str(month), "build_id": build_id, "seconds": took})
    return {
        "month": str(month),
        "build_id": build_id,
        "built_at": built_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source_events": source,
        "rows": rows,
        "seconds": took,
        "seconds_per_mart": seconds,
        "warehouse": warehouse.url,
    }


def read_month(warehouse: Warehouse, month: Month) -> dict[str, Any]:
    """Every mart's rows for ``month`` (``BadInput`` when the month was never built)."""
    params = month.params()
    with _translated("show"):
        _require_tables(warehouse)
        build = warehouse.query(
            "SELECT build_id, toString(built_at), source_events, seconds "
            f"FROM {BUILDS_TABLE} WHERE month = toDate(%(month)s) ORDER BY built_at DESC LIMIT 1",
            params,
        )
        if not build:
            raise BadInput(
                f"the marts for {month} are not built",
                hint=f"run `ugc marts build --month {month}`",
            )
        marts = {}
        for mart in (m for m in MARTS if not m.internal):
            columns = [c for c in mart.columns if c != "month"]
            select = ", ".join(f"toString({c})" if c == "day" else c for c in columns)
            result = warehouse.query(
                f"SELECT {select} FROM {mart.table} WHERE month = toDate(%(month)s) "
                f"ORDER BY {mart.order_by}",
                params,
            )
            marts[mart.name] = [
                {c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in result
            ]
    build_id, built_at, source, took = build[0]
    return {
        "month": str(month),
        "build": {
            "build_id": build_id,
            "built_at": str(built_at).replace(" ", "T") + "Z",
            "source_events": int(source),
            "seconds": float(took),
        },
        "marts": marts,
    }


@contextmanager
def _duplicate_sets(warehouse: Warehouse, params: dict[str, Any]) -> Iterator[None]:
    """The month's duplicated id hashes per event table, which the marts' ``deduped`` reads:
    temporary tables of this connection, built once for every mart of the build."""
    made = []
    try:
        for event_type in DEDUP_WINDOWS:
            warehouse.execute(f"DROP TEMPORARY TABLE IF EXISTS {dups_table(event_type)}")
            create, fill = dups_sql(event_type)
            warehouse.execute(create)
            made.append(dups_table(event_type))
            warehouse.execute(fill, params)
        yield
    finally:
        for table in made:
            try:
                warehouse.execute(f"DROP TEMPORARY TABLE IF EXISTS {table}")
            except WarehouseQueryError:
                log.warning("cannot drop a temporary table", extra={"table": table})


def _drop_month(warehouse: Warehouse, table: str, month: Month) -> None:
    warehouse.execute(f"ALTER TABLE {table} DROP PARTITION %(p)s", {"p": month.partition})


def _require_tables(warehouse: Warehouse) -> None:
    missing = [m.table for m in MARTS if m.table not in warehouse.tables()]
    if missing:
        raise WarehouseUnavailable(
            f"the warehouse {warehouse.url} has no mart table {missing[0]}",
            hint="run `ugc db migrate` first",
        )


class _translated:
    """Warehouse refusals during a build or a read leave as ``WarehouseUnavailable`` (exit 4)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if isinstance(exc, WarehouseQueryError):
            raise WarehouseUnavailable(
                f"marts {self.what}: the warehouse refused a query: {exc.message}",
                hint="is the warehouse migrated (`ugc db migrate`)?",
            ) from exc


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if value != value else round(value, 3)
    if isinstance(value, date):
        return value.isoformat()
    return value
