"""Both DAGs end to end with ``dag.test()``: traffic posted through the real collector
(``ugc serve``) into the tansu broker, then the DAG tasks run the real ``ugc`` CLI against
Debian's clickhouse-server.

    ingest: the window's events are in their tables, the ledger accounts for every message,
            the quality check passed and recorded its results, the load emitted its asset;
    marts:  the month is built from exactly those events and checked;
    a dead-letter rate over the limit fails the ingest's quality check (exit 5) at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum
import pytest

from tests.support.services import ClickHouseServer, KafkaBroker, RedisServer, UgcServe
from tests.support.warehouse import (
    WarehouseHandle,
    canonical_record,
    encode,
    loaded_counts,
    make_server_warehouse,
    produce,
)

UGC = str(Path(sys.executable).parent / "ugc")
WINDOW = pendulum.duration(minutes=10)


class Collector(UgcServe):
    """``ugc serve``, ready once it can reach Kafka."""

    ready_path = "/readyz"


def ugc_free_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("UGC_")}


def pipeline_env(bootstrap: str, topic: str, warehouse: WarehouseHandle, data: Path) -> dict:
    """What the Airflow worker's environment holds in production: UGC_* for the tasks."""
    return {
        "UGC_KAFKA_BOOTSTRAP": bootstrap,
        "UGC_KAFKA_TOPIC": topic,
        "UGC_KAFKA_PARTITIONS": "2",
        "UGC_CLICKHOUSE_URL": warehouse.url,
        "UGC_DATA_DIR": str(data),
        "UGC_LOG_LEVEL": "warning",
    }


def apply_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in [k for k in os.environ if k.startswith("UGC_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def next_window() -> pendulum.DateTime:
    """A logical date whose 10-minute window holds the next half minute (the data interval of
    a manual run is the last complete one before it)."""
    now = pendulum.now("UTC")
    end = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0) + WINDOW
    if end - now < pendulum.duration(seconds=15):  # too close to the edge: use the next one
        time.sleep((end - now).total_seconds() + 1)
        end += WINDOW
    return end + pendulum.duration(minutes=1)


def task_states(run: Any) -> dict[str, tuple[str, int]]:
    return {ti.task_id: (ti.state, ti.try_number) for ti in run.get_task_instances()}


def asset_events(run: Any) -> list[tuple[str, str]]:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id).all()
        return [(event.asset.uri, event.source_task_id) for event in rows]


def quality_rows(warehouse: WarehouseHandle, since: pendulum.DateTime) -> dict[str, tuple]:
    rows = warehouse.rows(
        "SELECT suite, count(), countIf(success = 0 AND level = 'error') "
        "FROM quality_results WHERE window_since = toDateTime(%(since)s, 'UTC') GROUP BY suite",
        {"since": int(since.timestamp())},
    )
    return {suite: (int(total), int(failed)) for suite, total, failed in rows}


@dataclass
class Ingested:
    traffic: Any
    report: Any
    run: Any
    window_start: pendulum.DateTime
    warehouse: WarehouseHandle
    topic: str
    data: Path


@pytest.fixture(scope="module")
def ingested(
    airflow_db: Path,
    dagbag: Any,
    kafka_broker: KafkaBroker,
    redis_server: RedisServer,
    clickhouse_server: ClickHouseServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Ingested]:
    """Traffic through the collector, then one ``ugc_ingest`` run over its window."""
    from ugc.traffic import generate, run

    workdir = tmp_path_factory.mktemp("dag-e2e")
    topic = f"test.dags.{os.getpid()}.{int(time.time())}"
    warehouse = make_server_warehouse(clickhouse_server.url)
    env = pipeline_env(kafka_broker.bootstrap, topic, warehouse, workdir / "data")
    created = subprocess.run(
        [UGC, "topic", "create"],
        env=ugc_free_env() | env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    settings = {
        "UGC_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "UGC_KAFKA_TOPIC": topic,
        "UGC_REDIS_URL": redis_server.url,
        "UGC_RATE_LIMIT_PER_SECOND": "0",
        "UGC_LOG_LEVEL": "warning",
    }
    with Collector(workdir, settings) as collector, pytest.MonkeyPatch.context() as mp:
        apply_env(mp, env)
        mp.setenv("AIRFLOW_VAR_UGC_BIN", UGC)
        logical_date = next_window()
        traffic = generate(300, seed=23, invalid_share=0.1)
        report = run(collector.url, traffic, concurrency=8)
        assert report.mismatches == 0, report.mismatch_samples
        assert report.accepted == traffic.tally.valid > 200
        dag_run = dagbag.dags["ugc_ingest"].test(logical_date=logical_date)
        start = logical_date.replace(second=0) - pendulum.duration(minutes=1) - WINDOW
        yield Ingested(traffic, report, dag_run, start, warehouse, topic, workdir / "data")


def test_ingest_loads_the_window_checks_it_and_emits_the_asset(ingested: Ingested) -> None:
    from ugc.events import REGISTRY

    assert ingested.run.state == "success", task_states(ingested.run)
    assert task_states(ingested.run) == {
        "etl_run": ("success", 1),
        "quality_check": ("success", 1),
    }
    # rows: every accepted event in its table, by type; nothing dead-lettered
    expected = {REGISTRY.get(name).table: n for name, n in ingested.traffic.tally.by_type.items()}
    counts = loaded_counts(ingested.warehouse)
    assert counts.pop("dead_letters") == 0
    assert {table: n for table, n in counts.items() if n} == expected
    # the ledger accounts for every message the collector published
    loaded, dead, next_offsets = ingested.warehouse.rows(
        "SELECT sum(rows_loaded), sum(rows_dead_lettered), sum(next_offset) FROM "
        "(SELECT kafka_partition, sum(rows_loaded) AS rows_loaded, "
        "sum(rows_dead_lettered) AS rows_dead_lettered, max(next_offset) AS next_offset "
        "FROM load_ledger WHERE topic = %(topic)s GROUP BY kafka_partition)",
        {"topic": ingested.topic},
    )[0]
    assert (int(loaded), int(dead), int(next_offsets)) == (ingested.report.accepted, 0, loaded)
    # the quality check ran over the run's window, recorded its results and passed
    results = quality_rows(ingested.warehouse, ingested.window_start)
    assert {"duplicates", "offset_gaps", "dead_letters"} <= set(results)
    assert all(failed == 0 for _, failed in results.values()), results
    summary = json.loads((ingested.data / "quality" / "summary.json").read_text())
    assert summary["status"] in {"passed", "warning"}
    assert asset_events(ingested.run) == [("ugc://warehouse/events", "etl_run")]


def test_marts_build_the_month_from_the_loaded_events(ingested: Ingested, fresh_dag: Any) -> None:
    now = pendulum.now("UTC")
    run = fresh_dag("ugc_marts").test(logical_date=None, run_after=now)  # as after a load
    assert run.state == "success", task_states(run)
    month = now.strftime("%Y-%m")
    tally = ingested.traffic.tally  # live traffic spans 6 hours: it may start last month
    in_month = sum(n for (day, _), n in tally.by_day.items() if day.strftime("%Y-%m") == month)
    films = sum(n for (_, m), n in tally.films_by_vendor_month.items() if m == month)
    first_day = {"m": month + "-01"}
    (source,) = ingested.warehouse.rows(
        "SELECT source_events FROM mart_builds WHERE month = toDate(%(m)s)", first_day
    )[0]
    assert int(source) == in_month
    built_films = ingested.warehouse.scalar(
        "SELECT sum(films) FROM mart_vendor_films WHERE month = toDate(%(m)s)", first_day
    )
    assert int(built_films or 0) == films
    results = quality_rows(ingested.warehouse, now.start_of("month"))
    assert results and all(failed == 0 for _, failed in results.values()), results
    assert asset_events(run) == [("ugc://warehouse/marts", "marts_build")]


def test_a_dead_letter_rate_over_the_limit_fails_the_quality_check_at_once(
    airflow_db: Path,
    fresh_dag: Any,
    kafka_broker: KafkaBroker,
    clickhouse_server: ClickHouseServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topic = f"test.dags.dead.{os.getpid()}.{int(time.time())}"
    warehouse = make_server_warehouse(clickhouse_server.url)
    apply_env(monkeypatch, pipeline_env(kafka_broker.bootstrap, topic, warehouse, tmp_path))
    monkeypatch.setenv("AIRFLOW_VAR_UGC_BIN", UGC)
    logical_date = next_window()
    good = [encode(canonical_record("like")) for _ in range(20)]
    bad = [(b"like", b"{not json")] * 3  # 3 of 23: over the 1% the dead_letters suite allows
    produce(kafka_broker.bootstrap, topic, good + bad)

    run = fresh_dag("ugc_ingest").test(logical_date=logical_date)

    assert run.state == "failed"
    assert task_states(run) == {"etl_run": ("success", 1), "quality_check": ("failed", 1)}
    counts = loaded_counts(warehouse)
    assert (counts["events_like"], counts["dead_letters"]) == (20, 3)
    start = logical_date.replace(second=0) - pendulum.duration(minutes=1) - WINDOW
    assert quality_rows(warehouse, start)["dead_letters"][1] >= 1
