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
