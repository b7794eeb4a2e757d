"""Generated traffic through the real collector (`ugc serve`) into the tansu broker.

Every event answered 2xx is in Kafka exactly once, keyed by its type, with no token; every
broken event got the status it expected; the counts per type equal the generator's tally.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.kafka import read_topic
from tests.support.services import KafkaBroker, RedisServer, UgcServe
from ugc.traffic import generate, run

UGC = str(Path(sys.executable).parent / "ugc")


@pytest.fixture
def collector(
    tmp_path: Path, kafka_broker: KafkaBroker, redis_server: RedisServer, topic_name: str
) -> Iterator[UgcServe]:
    settings = {
        "UGC_KAFKA_BOOTSTRAP": kafka_broker.bootstrap,
        "UGC_KAFKA_TOPIC": topic_name,
        "UGC_KAFKA_PARTITIONS": "2",
        "UGC_REDIS_URL": redis_server.url,
        "UGC_RATE_LIMIT_PER_SECOND": "0",
        "UGC_LOG_LEVEL": "warning",
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("UGC_")} | settings
    created = subprocess.run(
        [UGC, "topic", "create"], env=env, capture_output=True, text=True, timeout=60
    )
    assert created.returncode == 0, created.stderr
    with UgcServe(tmp_path, settings) as serve:
        yield serve


def test_every_accepted_event_is_in_kafka_exactly_once(
    collector: UgcServe, kafka_broker: KafkaBroker, topic_name: str
) -> None:
    singles = generate(300, seed=41, invalid_share=0.1, logged_in_share=0.0)
    single = run(collector.url, singles, concurrency=8)
    batches = generate(200, seed=42, invalid_share=0.1)
    batched = run(collector.url, batches, concurrency=4, batch_size=20)

    for report in (single, batched):
        assert report.mismatches == 0, report.mismatch_samples
    accepted = single.accepted + batched.accepted
    assert accepted == singles.tally.valid + batches.tally.valid

    messages = read_topic(kafka_broker.bootstrap, topic_name, expect=accepted, timeout=30)
    records = [message.json() for message in messages]
    ids = [record["event_id"] for record in records]
    assert len(ids) == accepted  # nothing lost, nothing twice
    assert set(ids) == set(single.accepted_ids) | set(batched.accepted_ids)
    assert len(set(ids)) == accepted
    assert all(
        message.key == record["event_type"].encode()
        for message, record in zip(messages, records, strict=True)
    )
    assert all("token" not in record for record in records)
    assert Counter(record["event_type"] for record in records) == (
        singles.tally.by_type + batches.tally.by_type
    )
    assert Counter(record["envelope"] for record in records) == (
        singles.tally.by_envelope + batches.tally.by_envelope
    )
