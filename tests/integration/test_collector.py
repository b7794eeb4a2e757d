"""The collector against a real (tansu) Kafka broker: acks, read-back, outages, the spool cap."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.kafka import ensure_topic, read_topic
from tests.support.services import KafkaBroker, free_port
from tests.unit.test_http_api import SEED_FILES, Harness
from ugc.adapters.kafka.producer import KafkaPublisher
from ugc.collector.app import create_app
from ugc.collector.ports import AllowAll
from ugc.collector.spool import Spool
from ugc.events import REGISTRY, Identity
from ugc.settings import Settings

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2lnbmF0dXJlLXNlY3JldA"


class TokenResolver:
    """Any token is user-42 (the real resolver is tested with the identity code)."""

    async def resolve(self, token: str | None) -> Identity:
        if token:
            return Identity(user_id="user-42", source="auth_service")
        return Identity()

    async def aclose(self) -> None:
        return None


def collector(tmp_path: Path, bootstrap: str, topic: str, **overrides: Any) -> Harness:
    settings = Settings.load(
        {
            "data_dir": str(tmp_path),
            "kafka_bootstrap": bootstrap,
            "kafka_topic": topic,
            **overrides,
        },
        environ={},
    )
    publisher = KafkaPublisher(settings)
    app = create_app(settings, publisher=publisher, identity=TokenResolver(), limiter=AllowAll())
    return Harness(app, publisher)


@pytest.fixture
def api(tmp_path: Path, kafka_broker: KafkaBroker, topic_name: str) -> Iterator[Harness]:
    ensure_topic(kafka_broker.bootstrap, topic_name)
    harness = collector(tmp_path, kafka_broker.bootstrap, topic_name)
    yield harness
    harness.close()


def wait_until(api: Harness, condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        api.run(asyncio.sleep(0.1))
    raise AssertionError("condition not met in time")


def test_every_type_and_both_envelopes_reach_kafka_canonical_and_keyed(
    api: Harness, kafka_broker: KafkaBroker, topic_name: str
) -> None:
    bodies = [json.loads(p.read_text()) for p in SEED_FILES]
    bodies += [{"event": t.name, "token": TOKEN, "data": t.example()} for t in REGISTRY]
    sent = {}
    for body in bodies:
        result = api.post("/api/v1/events", body)
        assert result.status_code == 200, result.text
        sent[result.json["event_id"]] = body
    batch = api.post("/api/v1/events/batch", {"events": bodies[:3]})
    assert batch.status_code == 200
    messages = read_topic(kafka_broker.bootstrap, topic_name, expect=len(bodies) + 3)
    assert len(messages) == len(bodies) + 3
    by_id = {m.json()["event_id"]: m for m in messages}
    assert set(sent) <= set(by_id)
    for event_id, body in sent.items():
        message = by_id[event_id]
        record = message.json()
        assert message.key == record["event_type"].encode()
        assert record["event_type"] in REGISTRY
        assert set(record) >= {"received_at", "event_at", "identity_source", "context", "data"}
        if body.get("token"):
            assert (record["user_id"], record["identity_source"]) == ("user-42", "auth_service")
        else:
            assert (record["user_id"], record["identity_source"]) == ("anonymous", "anonymous")
        assert "token" not in record
        assert TOKEN not in message.value.decode()
        assert "signature" not in message.value.decode()
    types = {m.json()["event_type"] for m in messages}
    assert types == set(REGISTRY.names())


def test_readyz_reports_kafka(api: Harness) -> None:
    assert api.get("/readyz").json == {"status": "ready", "kafka": True, "spool": True}


def metric_value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")


def click(event_id: str) -> dict[str, Any]:
    return {
        "event": "element_click",
        "token": None,
        "event_id": event_id,
        "data": {"element_type": "movie", "page_type": "main"},
    }


def post_clicks(api: Harness, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    for event_id in ids:
        result = api.post("/api/v1/events", click(event_id))
        assert result.status_code == 200, result.text
    return ids


def test_broker_outage_loses_nothing_answered_2xx_and_duplicates_nothing(
    tmp_path: Path, topic_name: str
) -> None:
    broker = KafkaBroker(tmp_path / "own-broker")
    broker.start()
    api = collector(tmp_path, broker.bootstrap, topic_name, kafka_acks_timeout_ms=1000)
    try:
        ensure_topic(broker.bootstrap, topic_name)
        post_clicks(api, 10)  # acked before the stop: tansu forgets them with its memory
        broker.kill()  # a crash, not a clean stop
        during = post_clicks(api, 30)
        assert api.app.delivery.spooling
        assert api.app.delivery.spool.records == 30
        assert api.get("/readyz").json["spool"] is True
        broker.start()
        ensure_topic(broker.bootstrap, topic_name)  # memory storage: create it again
        after = post_clicks(api, 20)
        wait_until(api, lambda: not api.app.delivery.spooling)
        more = post_clicks(api, 10)  # direct again
        messages = read_topic(broker.bootstrap, topic_name, expect=60)
        ids = [m.json()["event_id"] for m in messages]
        assert sorted(ids) == sorted(during + after + more)  # each exactly once
        assert len(ids) == len(set(ids)) == 60
        # the spooled ones arrived in the order they were answered, per partition
        spooled = during + after
        for partition in {m.partition for m in messages}:
            seen = [m.json()["event_id"] for m in messages if m.partition == partition]
            seen = [i for i in seen if i in set(spooled)]
            assert seen == [i for i in spooled if i in set(seen)]
        metrics = api.get("/metrics").text
        spooled_count = metric_value(
            metrics, 'ugc_events_accepted_total{event_type="element_click",via="spool"}'
        )
        # the 30 posted while it was down; the 20 after the restart went to the spool until
        # the replay had drained it, then directly to Kafka
        assert 30 <= spooled_count <= 50
    finally:
        api.close()
        broker.stop()


def test_spool_cap_reached_is_503_with_retry_after(tmp_path: Path, topic_name: str) -> None:
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    api = collector(tmp_path, dead, topic_name, kafka_acks_timeout_ms=500, spool_max_bytes="4KiB")
    try:
        statuses = []
        for _ in range(20):
            result = api.post("/api/v1/events", click(str(uuid.uuid4())))
            statuses.append(result.status_code)
            if result.status_code == 503:
                assert result.json["error"] == "spool_full"
                assert int(result.headers["retry-after"]) > 0
                break
        assert statuses[0] == 200 and statuses[-1] == 503
        ready = api.get("/readyz").json
        assert ready["kafka"] is False
    finally:
        api.close()


def test_a_dead_workers_spool_is_replayed_by_the_next_worker(
    tmp_path: Path, kafka_broker: KafkaBroker, topic_name: str
) -> None:
    ensure_topic(kafka_broker.bootstrap, topic_name)
    ids = [str(uuid.uuid4()) for _ in range(25)]
    dead = Spool(tmp_path / "spool", 1 << 20)  # a worker that spooled, then was killed

    async def spool_all() -> None:
        for event_id in ids:
            await dead.append(b"element_click", json.dumps({"event_id": event_id}).encode())

    asyncio.run(spool_all())
    dead.close()
    api = collector(tmp_path, kafka_broker.bootstrap, topic_name)  # same DATA_DIR/spool
    try:
        wait_until(
            api, lambda: api.app.delivery.spool.records == 0 and not api.app.delivery.spooling
        )
    finally:
        api.close()
    messages = read_topic(kafka_broker.bootstrap, topic_name, expect=len(ids))
    assert [m.json()["event_id"] for m in messages if m.partition == messages[0].partition] == [
        i for i in ids if i in {m.json()["event_id"] for m in messages}
    ]
    assert sorted(m.json()["event_id"] for m in messages) == sorted(ids)
    assert not list((tmp_path / "spool").glob("*.seg"))
