"""Session fixtures: real services as local processes on free ports (see tests/support).

Markers follow folders: tests/unit -> unit, tests/integration -> integration, and so on.
A service that cannot start fails the run; nothing is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.services import AuthStandin, ClickHouseServer, KafkaBroker, RedisServer
from tests.support.warehouse import (  # noqa: F401 - fixtures for every test
    chdb_warehouse,
    server_warehouse,
    warehouse,
)

FOLDER_MARKERS = {"unit", "integration", "e2e", "dags", "chaos"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for part in Path(str(item.fspath)).parts:
            if part in FOLDER_MARKERS:
                item.add_marker(getattr(pytest.mark, part))


@pytest.fixture(scope="session")
def services_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="session")
def redis_server(services_dir: Path) -> Iterator[RedisServer]:
    with RedisServer(services_dir) as server:
        yield server


@pytest.fixture(scope="session")
def kafka_broker(services_dir: Path) -> Iterator[KafkaBroker]:
    with KafkaBroker(services_dir) as broker:
        yield broker


@pytest.fixture(scope="session")
def clickhouse_server(services_dir: Path) -> Iterator[ClickHouseServer]:
    with ClickHouseServer(services_dir) as server:
        yield server


@pytest.fixture
def topic_name() -> str:
    """A fresh topic name per test, so tests sharing the broker never see each other."""
    return f"test.{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def auth_standin(services_dir: Path) -> Iterator[AuthStandin]:
    """The stand-in auth service (docs/auth-contract.md), RS256 with a key pair for this run.

    Shared by the session: a test that changes its mode should ``reset()`` it afterwards.
    """
    with AuthStandin(services_dir) as standin:
        yield standin
