"""A small, exactly known dataset of canonical records for the quality and marts tests.

``Dataset`` builds canonical records (the shape the collector publishes, see
``ugc.events.record``) with chosen times and ids, plus raw messages that must end in dead
letters. ``publish()`` sends them to a Kafka topic in order (one partition, so offsets are the
list positions) for the real ETL to load. The tests in this module check the builder itself.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ugc.events import REGISTRY, format_ts


@dataclass
class Message:
    key: str
    value: bytes
    record: dict[str, Any] | None = None


@dataclass
class Dataset:
    """Canonical records in publish order; ``messages()`` gives what goes to Kafka."""

    items: list[Message] = field(default_factory=list)
    _ids: int = 0

    def next_uuid(self) -> str:
        self._ids += 1
        return str(uuid.UUID(int=(0xA000 << 112) + self._ids))

    def add(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        at: datetime,
        user_id: str = "anonymous",
        envelope: str = "v1",
        event_id: str | None = None,
        session_id: str | None = None,
    ) -> dict[str, Any]:
        REGISTRY.get(event_type)
        record = {
            "event_id": event_id or self.next_uuid(),
            "event_type": event_type,
            "schema_version": 1,
            "envelope": envelope,
            "user_id": user_id,
            "claimed_user_id": None,
            "identity_source": "anonymous" if user_id == "anonymous" else "auth_service",
            "session_id": session_id,
            "received_at": format_ts(at),
            "client_event_at": format_ts(at),
            "client_sent_at": None,
            "event_at": format_ts(at),
            "context": {
                "country": "RU",
                "device": "desktop",
                "page_url": None,
                "referrer": None,
                "user_agent": None,
            },
            "data": data,
        }
        self.add_record(record)
        return record

    def add_record(self, record: dict[str, Any]) -> None:
        import orjson

        self.items.append(Message(record["event_type"], orjson.dumps(record), record))

    def add_raw(self, key: str, value: bytes) -> None:
        """A message the ETL must dead-letter (bad JSON, unknown type, ...)."""
        self.items.append(Message(key, value, None))

    def records(self) -> list[dict[str, Any]]:
        return [m.record for m in self.items if m.record is not None]

    def count_by_type(self) -> Counter[str]:
        return Counter(r["event_type"] for r in self.records())


def hours(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(count)]


T0 = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)


def test_records_follow_the_canonical_shape() -> None:
    data = Dataset()
    record = data.add("like", {"film_id": "f1", "action": "like"}, at=T0, user_id="u1")
    assert record["received_at"] == "2026-10-05T00:00:00.000Z"
    assert record["identity_source"] == "auth_service"
    assert data.count_by_type() == {"like": 1}
    assert data.next_uuid() != record["event_id"]


# ------------------------------------------------------------------ the real path
def load_through_etl(
    dataset: Dataset,
    *,
    bootstrap: str,
    topic: str,
    warehouse_url: str,
    data_dir: str,
) -> Any:
    """Publish the dataset to a new one-partition topic and run the real ETL into the warehouse.

    Kafka timestamps are the records' ``received_at`` (what the collector's producer sets);
    a raw message takes its predecessor's. Offsets are the positions in ``dataset.items``.
    """
    from tests.support.warehouse import produce
    from ugc.adapters.kafka.admin import create_topic
    from ugc.etl import RunOptions, run_etl
    from ugc.events import parse_ts

    create_topic(bootstrap, topic, 1)
    stamps, last = [], int(T0.timestamp() * 1000)
    for item in dataset.items:
        if item.record is not None:
            last = int(parse_ts(item.record["received_at"]).timestamp() * 1000)
        stamps.append(last)
    produce(
        bootstrap,
        topic,
        [(m.key.encode(), m.value) for m in dataset.items],
        partition=0,
        timestamps=stamps,
    )
    settings = etl_settings(bootstrap, topic, warehouse_url, data_dir)
    summary = run_etl(settings, RunOptions())
    assert summary.loaded + summary.dead_lettered == len(dataset.items), summary.one_line()
    return summary


def etl_settings(bootstrap: str, topic: str, warehouse_url: str, data_dir: str) -> Any:
    from ugc.settings import Settings

    return Settings.load(
        {
            "kafka_bootstrap": bootstrap,
            "kafka_topic": topic,
            "clickhouse_url": warehouse_url,
            "data_dir": data_dir,
        },
        environ={},
    )
