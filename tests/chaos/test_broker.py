"""Kafka goes away while traffic flows; nothing answered 2xx is lost.

The issue's 30 s outages (``UGC_CHAOS_OUTAGE_S`` sets another length) at about 300 events/s
rather than production rates (2 cores). The collector's ack timeout is 1 s so the outage is
noticed at once.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tests.chaos.harness import (
    Collector,
    Load,
    collector_settings,
    create_topic,
    etl,
    outage_seconds,
    reconcile,
    summary,
    unsettled,
)
from tests.support.services import KafkaBroker, RedisServer, wait_for
from tests.support.warehouse import WarehouseHandle
from ugc.traffic import generate, run

RATE = 300


def _spooled(collector: Collector) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in collector.metrics().splitlines()
        if line.startswith("ugc_events_accepted_total{") and 'via="spool"' in line
    )


def test_broker_paused_while_traffic_flows_then_back_nothing_lost(
    tmp_path: Path,
    private_broker: KafkaBroker,
    redis_server: RedisServer,
    server_warehouse: WarehouseHandle,
    topic_name: str,
) -> None:
    """SIGSTOP keeps the broker's state, so every event of the run is reconciled, in-flight
    ones included (an ack that timed out while the broker was frozen may be written twice to
    Kafka: the dedup views show it once)."""
    outage = outage_seconds(30)
    create_topic(private_broker.bootstrap, topic_name)
    settings = collector_settings(private_broker.bootstrap, topic_name, redis_server.url)
    with Collector(tmp_path, settings) as collector:
        items = generate(int(RATE * (outage + 6)), seed=101, invalid_share=0.05)
        with Load(collector.url, items, rate=RATE, keep_answers=True) as load:
            load.wait_pulled(RATE * 2)
            private_broker.pause()
            try:
                wait_for(lambda: collector.segments(), 10, "events spooled while Kafka is frozen")
                time.sleep(outage)  # the outage itself, not a wait for a result
            finally:
                private_broker.resume()
        report = load.report
        assert report.mismatches == 0, report.mismatch_samples
        assert report.by_status.keys() <= {200, 400, 422}, report.by_status
        assert _spooled(collector) > 0
        collector.wait_spool_drained()
    loaded = summary(etl(private_broker.bootstrap, topic_name, server_warehouse))
    assert loaded["dead_lettered"] == 0
    maybe, unknown = unsettled(report)
    reconcile(server_warehouse, report.accepted_ids, may_also_hold=maybe, unknown_extras=unknown)
    assert len(report.accepted_ids) == items.tally.valid


def test_broker_stopped_then_restarted_empty_the_events_of_the_outage_arrive(
    tmp_path: Path,
    private_broker: KafkaBroker,
    redis_server: RedisServer,
    server_warehouse: WarehouseHandle,
    topic_name: str,
) -> None:
    """tansu keeps its log in memory: a stop loses what it had acknowledged (a known limit of
    this broker, docs/guarantees.md). So the events answered before the stop are sent first and
    left out; every event answered 2xx from the stop on, while the broker is down, while it
    comes back and after, is reconciled exactly. The topic is recreated as ops would."""
    outage = outage_seconds(30)
    create_topic(private_broker.bootstrap, topic_name)
    settings = collector_settings(private_broker.bootstrap, topic_name, redis_server.url)
    with Collector(tmp_path, settings) as collector:
        before = run(collector.url, generate(300, seed=201, invalid_share=0.0), concurrency=4)
        assert before.accepted == 300
        private_broker.stop()
        items = generate(int(RATE * (outage + 5)), seed=202, invalid_share=0.05)
        with Load(collector.url, items, rate=RATE, keep_answers=True) as load:
            time.sleep(outage)  # the outage itself
            assert collector.segments(), "nothing was spooled while the broker was down"
            private_broker.start()
            create_topic(private_broker.bootstrap, topic_name)
        report = load.report
        assert report.mismatches == 0, report.mismatch_samples
        assert report.by_status.keys() <= {200, 400, 422}, report.by_status
        collector.wait_spool_drained()
    summary(etl(private_broker.bootstrap, topic_name, server_warehouse))
    maybe, unknown = unsettled(report)
    counts = reconcile(
        server_warehouse, report.accepted_ids, may_also_hold=maybe, unknown_extras=unknown
    )
    assert not set(before.accepted_ids) & set(counts), "tansu kept events across a restart?"
    assert len(report.accepted_ids) == items.tally.valid


def test_worker_killed_9_with_a_full_spool_its_events_are_replayed(
    tmp_path: Path,
    private_broker: KafkaBroker,
    redis_server: RedisServer,
    server_warehouse: WarehouseHandle,
    topic_name: str,
) -> None:
    """Kafka frozen, so the workers spool; a worker is killed with -9 while its segments
    hold events. Gunicorn starts a new worker, which adopts the dead worker's spool; when
    Kafka is back every event answered 2xx is in ClickHouse once. Requests the killed worker
    was serving got no answer: they may or may not be stored, and are the only extras allowed.
    """
    create_topic(private_broker.bootstrap, topic_name)
    settings = collector_settings(private_broker.bootstrap, topic_name, redis_server.url)
    with Collector(tmp_path, settings) as collector:
        items = generate(RATE * 12, seed=301, invalid_share=0.05)
        private_broker.pause()
        try:
            with Load(collector.url, items, rate=RATE, keep_answers=True) as load:
                load.wait_pulled(RATE * 3)
                wait_for(
                    lambda: any(collector.segments(pid) for pid in collector.worker_pids()),
                    20,
                    "a worker spooling",
                )
                victim = next(p for p in collector.worker_pids() if collector.segments(p))
                held = sum(p.stat().st_size for p in collector.segments(victim))
                assert held > 0
                os.kill(victim, signal.SIGKILL)
                wait_for(
                    lambda: (
                        victim not in collector.worker_pids() and len(collector.worker_pids()) == 2
                    ),
                    30,
                    "gunicorn replacing the killed worker",
                )
                load.wait_pulled(RATE * 8)
        finally:
            private_broker.resume()
        report = load.report
        collector.wait_spool_drained(timeout=90)
        # the adopter unlinks a segment, then its progress file, then the dead worker's lock
        wait_for(
            lambda: not list(collector.spool_dir.glob(f"{victim}-*")),
            10,
            "the dead worker's spool files removed",
        )
    assert report.mismatches <= report.by_status[0], report.mismatch_samples
    summary(etl(private_broker.bootstrap, topic_name, server_warehouse))
    maybe, unknown = unsettled(report)
    reconcile(server_warehouse, report.accepted_ids, may_also_hold=maybe, unknown_extras=unknown)
