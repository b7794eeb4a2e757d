"""The ETL dies or loses its warehouse while the collector takes traffic; re-runs finish the load.

Scaled for CI: about 12 s of traffic at 300 events/s, ETL batches of 50 messages so a run
has many batches to be killed in the middle of.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.chaos.harness import (
    Collector,
    Load,
    collector_settings,
    create_topic,
    etl,
    etl_process,
    reconcile,
    summary,
)
from tests.support.services import ClickHouseServer, KafkaBroker, RedisServer
from tests.support.warehouse import WarehouseHandle, make_server_warehouse
from ugc.traffic import generate

RATE = 300


def _kill_after_batches(process, batches: int) -> str:
    """Read the run's JSON log until ``batches`` batches were loaded; return what was read."""
    seen, lines = 0, []
    for line in process.stderr:
        lines.append(line)
        if '"batch loaded"' in line:
            seen += 1
            if seen >= batches:
                break
    return "".join(lines)


def test_etl_killed_9_mid_run_while_traffic_flows_then_rerun_loads_each_event_once(
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    redis_server: RedisServer,
    server_warehouse: WarehouseHandle,
    topic_name: str,
) -> None:
    create_topic(kafka_broker.bootstrap, topic_name)
    settings = collector_settings(kafka_broker.bootstrap, topic_name, redis_server.url)
    with Collector(tmp_path, settings) as collector:
        items = generate(RATE * 12, seed=401, invalid_share=0.05)
        with Load(collector.url, items, rate=RATE) as load:
            load.wait_pulled(RATE * 4)
            for batches in (1, 5):
                process = etl_process(
                    kafka_broker.bootstrap, topic_name, server_warehouse, "--batch-size", "50"
                )
                read = _kill_after_batches(process, batches)
                process.send_signal(signal.SIGKILL)
                process.wait(10)
                process.stderr.close()
                process.stdout.close()
                assert process.returncode == -signal.SIGKILL, f"ended before the kill: {read}"
            # a run in the middle of the traffic: completes what is there so far
            summary(etl(kafka_broker.bootstrap, topic_name, server_warehouse))
        report = load.report
        collector.wait_spool_drained()  # see the next test
    assert report.mismatches == 0, report.mismatch_samples
    summary(etl(kafka_broker.bootstrap, topic_name, server_warehouse))
    reconcile(server_warehouse, report.accepted_ids)
    assert len(report.accepted_ids) == items.tally.valid
    # the killed runs left rows of their last batch; the ledger and the views hide them
    ledger = server_warehouse.rows(
        "SELECT kafka_partition, sum(rows_loaded) FROM load_ledger GROUP BY kafka_partition"
    )
    assert sum(int(n) for _p, n in ledger) >= len(report.accepted_ids)


def test_clickhouse_stopped_during_an_etl_run_fails_clearly_then_a_rerun_completes(
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    redis_server: RedisServer,
    topic_name: str,
) -> None:
    create_topic(kafka_broker.bootstrap, topic_name)
    settings = collector_settings(kafka_broker.bootstrap, topic_name, redis_server.url)
    server = ClickHouseServer(tmp_path).start()
    try:
        warehouse = make_server_warehouse(server.url)
        with Collector(tmp_path, settings) as collector:
            items = generate(RATE * 8, seed=501, invalid_share=0.05)
            with Load(collector.url, items, rate=RATE) as load:
                load.wait_pulled(RATE * 5)
                process = etl_process(
                    kafka_broker.bootstrap, topic_name, warehouse, "--batch-size", "50"
                )
                _kill_after_batches(process, 2)
                server.kill()
                _out, err = process.communicate(timeout=120)
                assert process.returncode == 4, err[-2000:]
                assert "unreachable" in err and "Traceback" not in err
                server.start()
            report = load.report
            # an ack slower than the test's 1 s timeout (a busy machine) spools the event: 2xx,
            # on disk, in Kafka once replayed
            collector.wait_spool_drained()
        assert report.mismatches == 0, report.mismatch_samples
        summary(etl(kafka_broker.bootstrap, topic_name, warehouse))
        reconcile(warehouse, report.accepted_ids)
        assert len(report.accepted_ids) == items.tally.valid
        runs = dict(warehouse.rows("SELECT status, count() FROM etl_runs GROUP BY status"))
        assert runs.get("ok") == 1
    finally:
        server.stop()
