"""Warehouse fixtures: a migrated, empty ClickHouse database on either backend.

    def test_something(warehouse):          # runs twice: server and chdb
        with warehouse.open() as wh:         # a ugc.adapters.clickhouse.Warehouse
            wh.query("SELECT count() FROM v_events_like")
        warehouse.url                        # for UGC_CLICKHOUSE_URL / subprocesses
        warehouse.rows("SELECT ...")         # open, query, close in one call

``server_warehouse`` / ``chdb_warehouse`` give one backend only. The server one is a fresh
database on the session's clickhouse-server; the chdb one a fresh directory. Nothing is held
open between calls: chdb lets one process own a directory, so a test can hand the URL to a
subprocess (``ugc etl run``) as long as it is not inside ``with warehouse.open()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ugc.adapters.clickhouse import Warehouse, connect
from ugc.adapters.clickhouse.migrate import migrate

BACKENDS = ("server", "chdb")


@dataclass(frozen=True)
class WarehouseHandle:
    url: str
    backend: str  # "server" or "chdb"

    def open(self) -> Warehouse:
        return connect(self.url)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with self.open() as warehouse:
            return warehouse.query(sql, params)

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None


def make_server_warehouse(server_url: str) -> WarehouseHandle:
    """A fresh, migrated database on a running server (``ClickHouseServer.url``)."""
    base = server_url.rsplit("/", 1)[0]
    url = f"{base}/t_{uuid.uuid4().hex[:12]}"
    with connect(url, create_database=True) as warehouse:
        migrate(warehouse)
    return WarehouseHandle(url, "server")


def make_chdb_warehouse(directory: Path) -> WarehouseHandle:
    url = f"chdb://{Path(directory).resolve()}"
    with connect(url) as warehouse:
        migrate(warehouse)
    return WarehouseHandle(url, "chdb")


@pytest.fixture
def server_warehouse(clickhouse_server: Any) -> Iterator[WarehouseHandle]:
    handle = make_server_warehouse(clickhouse_server.url)
    yield handle
    database = handle.url.rsplit("/", 1)[1]
    with connect(handle.url) as warehouse:
        warehouse.execute(f"DROP DATABASE IF EXISTS {database}")


@pytest.fixture
def chdb_warehouse(tmp_path: Path) -> WarehouseHandle:
    return make_chdb_warehouse(tmp_path / "warehouse")


@pytest.fixture(params=BACKENDS)
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseHandle]:
    """A migrated, empty warehouse; the test runs once per backend."""
    if request.param == "server":
        yield request.getfixturevalue("server_warehouse")
    else:
        yield make_chdb_warehouse(tmp_path / "warehouse")


# ----------------------------------------------------------------------------- test data
def canonical_record(
    event_type: str,
    *,
    data: dict[str, Any] | None = None,
    received_at: Any = None,
    user_id: str = "user-1",
    session_id: str | None = "s-1",
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A canonical record built the way the collector builds it (normalise + build_record)."""
    from datetime import UTC, datetime

    from ugc.events import REGISTRY, Identity, build_record, normalise

    spec = REGISTRY.get(event_type)
    payload: dict[str, Any] = {
        "event": event_type,
        "data": spec.example() if data is None else data,
        "session_id": session_id,
        "context": context or {"country": "NL", "device": "desktop"},
    }
    incoming = normalise(payload, REGISTRY)
    identity = Identity(user_id=user_id, source="local")
    moment = received_at or datetime.now(UTC)
    return build_record(incoming, identity, moment, user_agent="pytest")


def produce(
    bootstrap: str,
    topic: str,
    messages: list[tuple[bytes | None, bytes | None]],
    *,
    partition: int | None = None,
    timestamps: list[int] | None = None,
) -> None:
    """Produce ``(key, value)`` pairs and wait for every ack (a test helper, not the collector)."""
    from confluent_kafka import Producer

    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True}
    )
    errors: list[Any] = []

    def on_delivery(err: Any, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    for index, (key, value) in enumerate(messages):
        kwargs: dict[str, Any] = {"on_delivery": on_delivery}
        if partition is not None:
            kwargs["partition"] = partition
        if timestamps is not None:
            kwargs["timestamp"] = timestamps[index]
        while True:
            try:
                producer.produce(topic, value=value, key=key, **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
    if producer.flush(30) or errors:
        raise RuntimeError(f"produce failed: {errors[:3]}")


def encode(record: dict[str, Any]) -> tuple[bytes, bytes]:
    """``(key, value)`` as the collector publishes a record."""
    import orjson

    return record["event_type"].encode(), orjson.dumps(record)


def etl_settings(bootstrap: str, topic: str, url: str, **extra: Any) -> Any:
    """Settings for an ETL run against these services, ignoring the caller's environment."""
    from ugc.settings import Settings

    return Settings.load(
        {"kafka_bootstrap": bootstrap, "kafka_topic": topic, "clickhouse_url": url, **extra},
        environ={},
    )


def etl_env(bootstrap: str, topic: str, url: str) -> dict[str, str]:
    """Environment for ``ugc`` subprocesses against these services."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}
    env.update(
        UGC_KAFKA_BOOTSTRAP=bootstrap,
        UGC_KAFKA_TOPIC=topic,
        UGC_CLICKHOUSE_URL=url,
        UGC_LOG_FORMAT="json",
    )
    return env


def loaded_counts(handle: WarehouseHandle) -> dict[str, int]:
    """Rows per table as readers see them (the dedup views), plus dead letters."""
    from ugc.events import REGISTRY

    with handle.open() as warehouse:
        counts = {
            t.table: int(warehouse.scalar(f"SELECT count() FROM v_{t.table}")) for t in REGISTRY
        }
        counts["dead_letters"] = int(warehouse.scalar("SELECT count() FROM v_dead_letters"))
    return counts


def message_positions(handle: WarehouseHandle) -> list[tuple[int, int]]:
    """Every (partition, offset) readers can see, tables and dead letters together."""
    from ugc.events import REGISTRY

    parts = [f"SELECT kafka_partition, kafka_offset FROM v_{t.table}" for t in REGISTRY] + [
        "SELECT kafka_partition, kafka_offset FROM v_dead_letters"
    ]
    rows = handle.rows(" UNION ALL ".join(parts))
    return sorted((int(p), int(o)) for p, o in rows)
