"""The ETL under faults: kill -9, a warehouse that dies, concurrent runs, offsets going back."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from datetime import UTC, datetime

import pytest

from tests.support.services import ClickHouseServer, KafkaBroker, free_port
from tests.support.warehouse import (
    canonical_record,
    encode,
    etl_env,
    etl_settings,
    loaded_counts,
    make_server_warehouse,
    message_positions,
    produce,
)
from ugc.adapters.clickhouse import connect
from ugc.adapters.kafka.admin import create_topic
from ugc.adapters.kafka.consumer import PartitionReader
from ugc.errors import IntegrityError, WarehouseUnavailable
from ugc.etl import RunOptions, run_etl
from ugc.etl.lock import WarehouseLock
from ugc.etl.run import Loader
from ugc.events import REGISTRY

UGC = [sys.executable, "-c", "from ugc.cli import main; main()"]


def _fill(bootstrap: str, topic: str, count: int, partitions: int = 1) -> None:
    """``count`` valid records, the types in turn, each with its own event id."""
    create_topic(bootstrap, topic, partitions)
    templates = [canonical_record(name) for name in REGISTRY.names()]
    messages = []
    for index in range(count):
        record = dict(templates[index % len(templates)], event_id=str(uuid.uuid4()))
        messages.append(encode(record))
    produce(bootstrap, topic, messages)


def _ugc(args: list[str], env: dict[str, str], **kw) -> subprocess.Popen:
    return subprocess.Popen(
        UGC + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


def _every_offset_once(warehouse, count: int, partition: int = 0) -> None:
    assert message_positions(warehouse) == [(partition, o) for o in range(count)]


# ------------------------------------------------------------------------------- kill -9
def test_kill_9_at_any_point_then_rerun_loads_each_message_once(
    kafka_broker, warehouse, topic_name
):
    count = 6_000
    _fill(kafka_broker.bootstrap, topic_name, count)
    env = etl_env(kafka_broker.bootstrap, topic_name, warehouse.url)
    for batches_before_kill in (1, 4):
        process = _ugc(["etl", "run", "--batch-size", "500"], env)
        seen = 0
        for line in process.stderr:
            seen += '"batch loaded"' in line
            if seen >= batches_before_kill:
                break
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert process.returncode == -signal.SIGKILL, "the run ended before it was killed"
    done = _ugc(["etl", "run", "--json"], env)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err
    _every_offset_once(warehouse, count)
    per_type = count // len(REGISTRY)
    assert loaded_counts(warehouse) == {**{t.table: per_type for t in REGISTRY}, "dead_letters": 0}


class LedgerFailsAfterInserts:
    """A warehouse whose ledger insert fails once: rows written, position not recorded."""

    def __init__(self, inner, fail_at: int) -> None:
        self.inner, self.fail_at, self.ledger_writes = inner, fail_at, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def insert(self, table, columns, data, **kw):
        if table == "load_ledger":
            self.ledger_writes += 1
            if self.ledger_writes == self.fail_at:
                raise WarehouseUnavailable("injected: connection lost before the ledger write")
        return self.inner.insert(table, columns, data, **kw)


def test_crash_between_rows_and_ledger_redelivers_and_readers_see_it_once(
    kafka_broker, warehouse, topic_name
):
    _fill(kafka_broker.bootstrap, topic_name, 300)
    settings = etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url)
    with (
        connect(warehouse.url) as inner,
        PartitionReader(settings.kafka_bootstrap, topic_name, settings.etl_group) as reader,
    ):
        failing = LedgerFailsAfterInserts(inner, fail_at=3)
        loader = Loader(failing, reader, REGISTRY, RunOptions(batch_size=50))
        with pytest.raises(WarehouseUnavailable, match="injected"):
            loader.run()
        # the ledger claims two batches; three batches of rows are in the tables
        assert inner.scalar("SELECT max(next_offset) FROM load_ledger") == 100
    again = run_etl(settings, RunOptions(batch_size=50))
    assert again.loaded == 200  # offsets 100..299, of which 100..149 a second time
    _every_offset_once(warehouse, 300)
    raw = warehouse.rows(
        "SELECT count(), uniqExact(kafka_partition, kafka_offset) FROM events_like "
        "WHERE kafka_offset BETWEEN 100 AND 149"
    )
    # the redelivered rows are detectable (same position twice) until a merge collapses them
    total, unique = map(int, raw[0])
    assert unique == total or total == 2 * unique


# ---------------------------------------------------------------------- warehouse down
def test_server_dying_mid_run_fails_clearly_and_the_next_run_completes(
    kafka_broker, tmp_path, topic_name
):
    count = 3_000
    _fill(kafka_broker.bootstrap, topic_name, count)
    server = ClickHouseServer(tmp_path).start()
    try:
        handle = make_server_warehouse(server.url)
        settings = etl_settings(kafka_broker.bootstrap, topic_name, handle.url)
        batches = []

        def kill_after_two_batches(_n: int) -> None:
            batches.append(_n)
            if len(batches) == 2:
                server.kill()

        with pytest.raises(WarehouseUnavailable, match="unreachable"):
            run_etl(settings, RunOptions(batch_size=500), progress=kill_after_two_batches)
        server.start()
        position = handle.scalar("SELECT max(next_offset) FROM load_ledger")
        assert position == 1000  # the ledger claims exactly what was written
        assert message_positions(handle)[:1000] == [(0, o) for o in range(1000)]
        # the lock of the failed run is stale (its pid is alive: it is us) until released;
        # the failed run released it on the way out, so the next run starts at once
        summary = run_etl(settings, RunOptions(batch_size=500))
        assert summary.loaded == count - 1000
        _every_offset_once(handle, count)
    finally:
        server.stop()


def test_cli_exit_codes_for_an_unreachable_warehouse_and_broker(kafka_broker, topic_name, tmp_path):
    env = etl_env(
        kafka_broker.bootstrap, topic_name, f"clickhouse://default:@127.0.0.1:{free_port()}/x"
    )
    result = subprocess.run(
        UGC + ["etl", "run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 4
    assert "unreachable" in result.stderr and "Traceback" not in result.stderr


# --------------------------------------------------------------------- concurrent runs
def test_a_held_lock_makes_a_second_run_busy_and_a_dead_holder_is_taken_over(
    kafka_broker, server_warehouse, topic_name
):
    _fill(kafka_broker.bootstrap, topic_name, 100)
    env = etl_env(kafka_broker.bootstrap, topic_name, server_warehouse.url)
    with connect(server_warehouse.url) as warehouse:
        lock = WarehouseLock(warehouse, "held-by-test")
        lock.acquire()
        result = subprocess.run(UGC + ["etl", "run"], env=env, capture_output=True, text=True)
        assert result.returncode == 6, result.stderr
        assert "holds the lock" in result.stderr
        lock.release()
        # a run killed with -9 leaves its lock behind; its process is gone, so it is stale
        dead = subprocess.Popen(["true"])
        dead.wait()
        stale = WarehouseLock(warehouse, "killed-run")
        stale.pid = dead.pid
        stale.acquire()
    result = subprocess.run(UGC + ["etl", "run", "--json"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    _every_offset_once(server_warehouse, 100)


def test_two_runs_at_once_never_double_load(kafka_broker, server_warehouse, topic_name):
    count = 5_000
    _fill(kafka_broker.bootstrap, topic_name, count)
    env = etl_env(kafka_broker.bootstrap, topic_name, server_warehouse.url)
    runs = [_ugc(["etl", "run", "--batch-size", "250", "--json"], env) for _ in range(2)]
    codes = sorted(run.wait(120) for run in runs)
    for run in runs:
        run.stdout.close()
        run.stderr.close()
    assert codes in ([0, 0], [0, 6])
    _every_offset_once(server_warehouse, count)
    ledger = server_warehouse.rows(
        "SELECT sum(last_offset - first_offset + 1), uniqExact(first_offset) FROM load_ledger"
    )
    # no batch was loaded by both runs
    assert [tuple(map(int, ledger[0]))] == [(count, count // 250)]


def test_chdb_warehouse_in_use_is_busy(kafka_broker, chdb_warehouse, topic_name):
    _fill(kafka_broker.bootstrap, topic_name, 10)
    holder = _ugc(["db", "status"], etl_env(kafka_broker.bootstrap, topic_name, chdb_warehouse.url))
    holder.communicate(timeout=60)
    code = (
        "import sys, time; from ugc.adapters.clickhouse import connect; "
        f"w = connect({chdb_warehouse.url!r}); print('ready', flush=True); time.sleep(30)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        env = etl_env(kafka_broker.bootstrap, topic_name, chdb_warehouse.url)
        result = subprocess.run(UGC + ["etl", "run"], env=env, capture_output=True, text=True)
        assert result.returncode == 6
        assert "in use by another process" in result.stderr
    finally:
        holder.kill()
        holder.wait()


# -------------------------------------------------------------------- offsets backwards
def test_offsets_going_backwards_are_detected_and_replay_recovers(warehouse, tmp_path):
    broker = KafkaBroker(tmp_path).start()
    try:
        topic = "events"
        create_topic(broker.bootstrap, topic, 1)
        old = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp() * 1000)
        produce(
            broker.bootstrap,
            topic,
            [encode(canonical_record("like")) for _ in range(100)],
            timestamps=[old + i for i in range(100)],
        )
        settings = etl_settings(broker.bootstrap, topic, warehouse.url)
        assert run_etl(settings, RunOptions()).loaded == 100

        broker.stop()  # memory storage: the broker forgets everything
        broker.start()
        create_topic(broker.bootstrap, topic, 1)
        produce(broker.bootstrap, topic, [encode(canonical_record("like")) for _ in range(10)])
        with pytest.raises(IntegrityError, match="recreated") as caught:
            run_etl(settings, RunOptions())
        assert "--replay --since" in caught.value.one_line()
        env = etl_env(broker.bootstrap, topic, warehouse.url)
        result = subprocess.run(UGC + ["etl", "run"], env=env, capture_output=True, text=True)
        assert result.returncode == 7 and "--replay --since" in result.stderr

        # more messages than before: offsets line up again, the content does not
        produce(broker.bootstrap, topic, [encode(canonical_record("like")) for _ in range(140)])
        with pytest.raises(IntegrityError, match="different message"):
            run_etl(settings, RunOptions())

        summary = run_etl(
            settings, RunOptions(replay=True, since=datetime(2026, 11, 1, tzinfo=UTC))
        )
        assert summary.loaded == 150
        assert loaded_counts(warehouse)["events_like"] == 250
        assert run_etl(settings, RunOptions()).loaded == 0
    finally:
        broker.stop()
