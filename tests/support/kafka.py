"""Kafka helpers for tests: create a topic, read a whole topic back.

Reading uses ``assign()`` from the beginning of every partition (``subscribe()`` waits ~23 s
for the group join on tansu, see DESIGN.md) and stops when every partition reported EOF and
the expected number of messages (if given) has arrived, or at the timeout.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from ugc.adapters.kafka.admin import create_topic


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes
    partition: int
    offset: int

    def json(self) -> Any:
        return orjson.loads(self.value)


def ensure_topic(bootstrap: str, topic: str, partitions: int = 4) -> None:
    create_topic(bootstrap, topic, partitions)


def read_topic(
    bootstrap: str, topic: str, *, expect: int | None = None, timeout: float = 15.0
) -> list[Message]:
    """Every message in ``topic`` (all partitions), in partition/offset order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        messages: list[Message] = []
        at_eof: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                at_eof.discard(msg.partition())
                messages.append(Message(msg.key(), msg.value(), msg.partition(), msg.offset()))
            elif msg is not None and msg.error().code() == KafkaError._PARTITION_EOF:
                at_eof.add(msg.partition())
            done = len(at_eof) == len(partitions)
            if done and (expect is None or len(messages) >= expect):
                break
        return sorted(messages, key=lambda m: (m.partition, m.offset))
    finally:
        consumer.close()
