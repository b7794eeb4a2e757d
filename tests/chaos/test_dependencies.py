"""Redis and the auth service fail, and the spool fills up, while traffic flows.

Scaled for CI: a few seconds of traffic at 200-300 events/s per scenario. Logged-in visitors
carry tokens the auth stand-in signed, so the identity of every event can be checked exactly
in ClickHouse: whatever failed, a logged-in visitor's event carries their user id.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.chaos.harness import (
    Collector,
    Load,
    collector_settings,
    create_topic,
    etl,
    identities,
    metric_total,
    reconcile,
    summary,
    unsettled,
)
from tests.support.services import AuthStandin, KafkaBroker, RedisServer, wait_for
from tests.support.warehouse import WarehouseHandle
from ugc.traffic import TrafficItem, generate

RATE = 250


@pytest.fixture
def standin(auth_standin: AuthStandin) -> Iterator[AuthStandin]:
    auth_standin.reset()
    yield auth_standin
    auth_standin.reset()


def _identity_settings(standin: AuthStandin, **extra: str) -> dict[str, str]:
    return {"auth_url": standin.url, "jwt_key_file": str(standin.key_path), **extra}


def _traffic(count: int, seed: int, standin: AuthStandin) -> list[TrafficItem]:
    traffic = generate(
        count, seed=seed, invalid_share=0.05, logged_in_share=0.6, token_factory=standin.token
    )
    return list(traffic)


def _assert_identities(
    warehouse: WarehouseHandle, traffic: list[TrafficItem], sources: set[str]
) -> None:
    """Every logged-in visitor's event carries their user id, resolved by one of ``sources``."""
    stored = identities(warehouse)
    logged_in = [i for i in traffic if i.valid and i.user_id and i.event_id]
    assert logged_in
    wrong = [
        (i.event_id, i.user_id, stored.get(i.event_id))
        for i in logged_in
        if stored.get(i.event_id, ("?", "?"))[0] != i.user_id
        or stored[i.event_id][1] not in sources
    ]
    assert not wrong, wrong[:5]


def test_redis_stopped_the_collector_keeps_answering_and_identity_falls_back(
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    standin: AuthStandin,
    server_warehouse: WarehouseHandle,
    topic_name: str,
) -> None:
    """Redis holds the identity cache and the rate limit. Stopped mid-traffic: the rate limit
    fails open (counted), the cache is skipped and the auth service is asked instead; every
    valid event still gets 2xx with the right user."""
    redis = RedisServer(tmp_path).start()
    create_topic(kafka_broker.bootstrap, topic_name)
    settings = collector_settings(
        kafka_broker.bootstrap,
        topic_name,
        redis.url,
        rate_limit_per_second="100000",
        # this test is about Redis: a loaded CI host must not push the (healthy) auth service
        # past its 300 ms timeout, which would rightly fall back to the local check
        **_identity_settings(standin, auth_timeout_ms="3000"),
    )
    try:
        with Collector(tmp_path, settings) as collector:
            items = _traffic(RATE * 8, 601, standin)
            with Load(collector.url, items, rate=RATE) as load:
                load.wait_pulled(RATE * 3)
                redis.stop()
            report = load.report
            metrics = collector.metrics()
            collector.wait_spool_drained()  # a slow ack on a busy machine spools its event
    finally:
        redis.stop()
    assert report.mismatches == 0, report.mismatch_samples
    assert len(report.accepted_ids) == sum(i.valid for i in items)
    assert metric_total(metrics, "ugc_rate_limit_fail_open_total") > 0
    assert metric_total(metrics, "ugc_identity_cache_errors_total") > 0
    summary(etl(kafka_broker.bootstrap, topic_name, server_warehouse))
    reconcile(server_warehouse, report.accepted_ids)
    _assert_identities(server_warehouse, items, {"auth_service", "cache"})


@pytest.mark.parametrize("mode", ["down", "slow"])
def test_auth_service_down_or_slow_breaker_opens_and_requests_stay_fast(
    mode: str,
    tmp_path: Path,
    kafka_broker: KafkaBroker,
    redis_server: RedisServer,
    standin: AuthStandin,
    server_warehouse: WarehouseHandle,
    topic_name: str,
) -> None:
    """The auth service answers 503 (down) or only after 2 s (slow: the 300 ms timeout cuts
    it). After 5 failures per worker the breaker opens (reset after 60 s here, so it stays
    open for the test): no more calls, every token goes to the local JWT check, which knows
    the same users. No request waits for the slow service beyond the timeout."""
    if mode == "down":
        standin.set_mode(status=503)
    else:
        standin.set_mode(delay_ms=2000)
    create_topic(kafka_broker.bootstrap, topic_name)
    settings = collector_settings(
        kafka_broker.bootstrap,
        topic_name,
        redis_server.url,
        **_identity_settings(standin, auth_breaker_reset_s="60", auth_breaker_failures="5"),
    )
    workers = 2
    with Collector(tmp_path, settings, workers=workers) as collector:
        items = _traffic(RATE * 5, 700 + len(mode), standin)
        with Load(collector.url, items, rate=RATE, concurrency=8) as load:
            pass
        report = load.report
        metrics = collector.metrics()
        collector.wait_spool_drained()  # a slow ack on a busy machine spools its event
    assert report.mismatches == 0, report.mismatch_samples
    calls = standin.calls()
    # per worker: the 5 failures, plus (slow) calls already in flight when the 5th failed;
    # at most the 8 concurrent requests of the load overall
    assert 0 < calls <= workers * 5 + 8, calls
    assert metric_total(metrics, "ugc_identity_total", source="local") > 0
    latency = report.latency()
    assert latency["max"] < 1500, latency  # never the auth service's 2 s
    assert latency["p95"] < 300, latency
    summary(etl(kafka_broker.bootstrap, topic_name, server_warehouse))
    reconcile(server_warehouse, report.accepted_ids)
    _assert_identities(server_warehouse, items, {"local"})


def test_spool_full_answers_503_with_retry_after_and_never_loses_a_2xx(
    tmp_path: Path,
    redis_server: RedisServer,
    private_broker: KafkaBroker,
    server_warehouse: WarehouseHandle,
    topic_name: str,
) -> None:
    """Kafka frozen and a 128 KiB spool: once full, events are refused with 503 and
    Retry-After (the client keeps them), never accepted and dropped. Back to normal when
    Kafka returns. Refused events whose first publish attempt reached the frozen broker may
    still arrive (the ack was lost, not the message): they are the only extras allowed."""
    create_topic(private_broker.bootstrap, topic_name)
    settings = collector_settings(
        private_broker.bootstrap, topic_name, redis_server.url, spool_max_bytes="131072"
    )
    probes: dict[str, int] = {}

    def probe(url: str) -> httpx.Response:
        event_id = str(uuid.uuid4())
        event = {"event": "like", "event_id": event_id, "data": {"film_id": "t", "action": "like"}}
        answer = httpx.post(url + "/api/v1/events", json=event, timeout=10)
        probes[event_id] = answer.status_code
        return answer

    with Collector(tmp_path, settings) as collector:
        items = generate(RATE * 8, seed=801, invalid_share=0.05)
        private_broker.pause()
        try:
            with Load(collector.url, items, rate=RATE, keep_answers=True) as load:
                load.wait_pulled(RATE * 5)
                wait_for(lambda: probe(collector.url).status_code == 503, 20, "the spool refusing")
                refused = probe(collector.url)
                assert refused.status_code == 503
                assert refused.json()["error"] == "spool_full"
                assert int(refused.headers["Retry-After"]) >= 1
        finally:
            private_broker.resume()
        report = load.report
        collector.wait_spool_drained()
        wait_for(lambda: probe(collector.url).status_code == 200, 30, "accepting again")
    assert report.by_status[503] > 0
    assert set(report.by_status) <= {200, 400, 422, 503}, report.by_status
    # a refusal is the only surprise: valid events answered 503, never a broken one
    assert report.mismatches == report.by_status[503]
    assert all(m.status == 503 and m.reason == "valid" for m in report.mismatch_samples)
    summary(etl(private_broker.bootstrap, topic_name, server_warehouse))
    maybe, unknown = unsettled(report)
    accepted = report.accepted_ids + [i for i, status in probes.items() if status == 200]
    maybe |= {i for i, status in probes.items() if status != 200}
    reconcile(server_warehouse, accepted, may_also_hold=maybe, unknown_extras=unknown)
