"""The load ledger and the run log: what has been loaded, by which run, up to where.

A partition's position is ``next_offset`` of its latest ledger row (by ``written_ns``), so a
``--replay`` that starts earlier moves it back until the replay catches up again. A ledger row
is written only after every row of its batch is in the warehouse: the ledger never claims more
than was written.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ugc.adapters.clickhouse import UNKNOWN_TABLE, Warehouse, WarehouseQueryError
from ugc.errors import ConfigError

LEDGER = "load_ledger"
RUNS = "etl_runs"
LEDGER_COLUMNS = (
    "topic",
    "kafka_partition",
    "first_offset",
    "last_offset",
    "next_offset",
    "rows_loaded",
    "rows_dead_lettered",
    "rows_skipped",
    "first_timestamp",
    "last_timestamp",
    "mode",
    "load_run_id",
    "written_ns",
    "written_at",
)


def ms_to_iso(ms: int) -> str:
    """Kafka timestamp (epoch ms; -1 when absent) -> canonical text."""
    moment = datetime.fromtimestamp(max(ms, 0) / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return ms_to_iso(time.time_ns() // 1_000_000)


@dataclass
class Entry:
    """One ledger row: a loaded batch of one partition."""

    topic: str
    partition: int
    first_offset: int
    last_offset: int
    next_offset: int
    rows_loaded: int
    rows_dead_lettered: int
    rows_skipped: int
    first_ms: int
    last_ms: int
    mode: str
    run_id: str


@dataclass(frozen=True)
class Position:
    partition: int
    next_offset: int
    last_offset: int
    last_run: str
    written_at: Any
    #: the timestamp (seconds) of the message at last_offset when it was loaded
    last_ts_s: int | None = None


class Ledger:
    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._last_ns = 0

    def positions(self, topic: str) -> dict[int, Position]:
        # the fingerprint (last offset and its timestamp) comes from the last row that read a
        # message: a hole row's last offset holds none
        read = "mode != 'hole'"
        try:
            rows = self.warehouse.query(
                f"SELECT kafka_partition, argMax(next_offset, written_ns), "
                f"argMaxIf(last_offset, written_ns, {read}), argMax(load_run_id, written_ns), "
                f"max(written_at), toUnixTimestamp(argMaxIf(last_timestamp, written_ns, {read})), "
                f"countIf({read}) "
                f"FROM {LEDGER} WHERE topic = %(topic)s GROUP BY kafka_partition",
                {"topic": topic},
            )
        except WarehouseQueryError as exc:
            if exc.server_code == UNKNOWN_TABLE:
                raise ConfigError(
                    f"the warehouse at {self.warehouse.url} has no ETL tables: "
                    "run `ugc db migrate` first"
                ) from exc
            raise
        return {
            int(r[0]): Position(
                int(r[0]), int(r[1]), int(r[2]), str(r[3]), r[4], int(r[5]) if r[6] else None
            )
            for r in rows
        }

    def write(self, entry: Entry) -> None:
        written_ns = max(time.time_ns(), self._last_ns + 1)
        self._last_ns = written_ns
        values = (
            entry.topic,
            entry.partition,
            entry.first_offset,
            entry.last_offset,
            entry.next_offset,
            entry.rows_loaded,
            entry.rows_dead_lettered,
            entry.rows_skipped,
            ms_to_iso(entry.first_ms),
            ms_to_iso(entry.last_ms),
            entry.mode,
            entry.run_id,
            written_ns,
            ms_to_iso(written_ns // 1_000_000),
        )
        self.warehouse.insert(LEDGER, LEDGER_COLUMNS, [[v] for v in values])


class RunLog:
    """``etl_runs``: a row when a run starts and one when it ends."""

    COLUMNS = (
        "load_run_id",
        "topic",
        "status",
        "options",
        "rows_loaded",
        "rows_dead_lettered",
        "rows_skipped",
        "message",
        "host",
        "pid",
        "at_ns",
        "at",
    )

    def __init__(self, warehouse: Warehouse, run_id: str, topic: str) -> None:
        self.warehouse = warehouse
        self.run_id = run_id
        self.topic = topic

    def record(
        self,
        status: str,
        options: dict[str, Any],
        counts: tuple[int, int, int] = (0, 0, 0),
        message: str = "",
    ) -> None:
        at_ns = time.time_ns()
        values = (
            self.run_id,
            self.topic,
            status,
            orjson.dumps(options, default=str).decode(),
            *counts,
            message[:2000],
            socket.gethostname(),
            os.getpid(),
            at_ns,
            ms_to_iso(at_ns // 1_000_000),
        )
        self.warehouse.insert(RUNS, self.COLUMNS, [[v] for v in values])

    @staticmethod
    def last(warehouse: Warehouse, topic: str) -> dict[str, Any] | None:
        rows = warehouse.query(
            f"SELECT load_run_id, argMax(status, at_ns), min(at), max(at), "
            f"argMax(rows_loaded, at_ns), argMax(rows_dead_lettered, at_ns), "
            f"argMax(message, at_ns) FROM {RUNS} WHERE topic = %(topic)s "
            f"GROUP BY load_run_id ORDER BY max(at_ns) DESC LIMIT 1",
            {"topic": topic},
        )
        if not rows:
            return None
        run_id, status, started, ended, loaded, dead, message = rows[0]
        return {
            "run_id": run_id,
            "status": status,
            "started_at": str(started),
            "ended_at": str(ended) if status != "running" else None,
            "rows_loaded": int(loaded),
            "rows_dead_lettered": int(dead),
            "message": message,
        }
