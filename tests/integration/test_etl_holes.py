"""Offsets that hold no message: the ETL stops before a young gap and records an old one.

Real holes on the real broker: a transactional producer's commit marker takes an offset that
a ``read_committed`` consumer never sees (Kafka and tansu alike), so each committed
transaction leaves a one-offset gap after its messages. tansu can also leave gaps of its own
(it reserves offsets before writing a batch): see ``ugc/adapters/kafka/consumer.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from confluent_kafka import Producer

from tests.integration.test_quality_check import _delete_offset
from tests.support.warehouse import (
    canonical_record,
    encode,
    etl_settings,
    loaded_counts,
    produce,
)
from ugc.adapters.kafka.admin import create_topic
from ugc.adapters.kafka.consumer import Hole, PartitionReader
from ugc.cli import main
from ugc.etl import RunOptions, etl_status, run_etl

TRANSACTIONS = 3
PER_TRANSACTION = 4
STEP = PER_TRANSACTION + 1  # the messages, then the commit marker
AFTER_LAST_MESSAGE = TRANSACTIONS * STEP - 1  # then the last marker


def _transactions(bootstrap: str, topic: str, partition: int = 0) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-tx"})
    producer.init_transactions(10)
    for _ in range(TRANSACTIONS):
        producer.begin_transaction()
        for _ in range(PER_TRANSACTION):
            key, value = encode(canonical_record("like"))
            producer.produce(topic, value, key, partition=partition)
        producer.commit_transaction(10)


def _read(bootstrap: str, topic: str, hole_after: float) -> list[object]:
    with PartitionReader(bootstrap, topic, "holes", hole_after=hole_after) as reader:
        _low, high = reader.watermarks(0)
        assert high == TRANSACTIONS * STEP
        assert reader.message_at(0, PER_TRANSACTION) is None  # a marker's offset: no message
        return [
            (item.start, item.end) if isinstance(item, Hole) else [m.offset() for m in item]
            for item in reader.read(0, 0, high, 100)
        ]


def test_an_old_gap_is_a_hole_a_young_one_ends_the_read(kafka_broker, topic_name) -> None:
    create_topic(kafka_broker.bootstrap, topic_name, 1)
    _transactions(kafka_broker.bootstrap, topic_name)
    first = list(range(PER_TRANSACTION))
    # the messages after each gap are a moment old: a write could still be in flight
    assert _read(kafka_broker.bootstrap, topic_name, hole_after=3600) == [first]
    # old enough: every gap followed by a message is a hole (the last marker is at the end)
    expected: list[object] = []
    for n in range(TRANSACTIONS):
        expected.append(list(range(n * STEP, n * STEP + PER_TRANSACTION)))
        if n < TRANSACTIONS - 1:
            expected.append((n * STEP + PER_TRANSACTION, (n + 1) * STEP))
    assert _read(kafka_broker.bootstrap, topic_name, hole_after=0) == expected


def test_holes_are_recorded_in_the_ledger_and_every_message_is_loaded(
    kafka_broker, warehouse, topic_name
) -> None:
    create_topic(kafka_broker.bootstrap, topic_name, 1)
    _transactions(kafka_broker.bootstrap, topic_name)
    young = etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url)
    old = etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url, etl_hole_after_s=0)

    waiting = run_etl(young, RunOptions(batch_size=3))
    assert (waiting.loaded, waiting.holes) == (PER_TRANSACTION, 0)
    assert etl_status(young)["partitions"][0]["ledger_position"] == PER_TRANSACTION

    summary = run_etl(old, RunOptions(batch_size=3))
    assert summary.loaded == (TRANSACTIONS - 1) * PER_TRANSACTION
    assert summary.holes == TRANSACTIONS - 1
    assert loaded_counts(warehouse)["events_like"] == TRANSACTIONS * PER_TRANSACTION
    # the ledger accounts for every offset up to the last message, holes as skipped
    [(covered, skipped, holes)] = warehouse.rows(
        "SELECT sum(last_offset - first_offset + 1), sum(rows_skipped), countIf(mode = 'hole') "
        "FROM load_ledger"
    )
    assert (int(covered), int(skipped), int(holes)) == (
        AFTER_LAST_MESSAGE,
        TRANSACTIONS - 1,
        TRANSACTIONS - 1,
    )
    # a second run finds nothing new, no hole twice, and its fingerprint check still works
    again = run_etl(old, RunOptions())
    assert (again.loaded, again.holes) == (0, 0)
    assert etl_status(old)["partitions"][0]["ledger_position"] == AFTER_LAST_MESSAGE


def test_a_replayed_hole_is_explained_once_by_the_quality_check(
    kafka_broker, warehouse, topic_name, tmp_path, monkeypatch, capsys
) -> None:
    """A replay writes the hole rows again; the offset-gap check counts the union of skipped
    offsets, so a row lost after the load stays unexplained instead of hiding behind them."""
    create_topic(kafka_broker.bootstrap, topic_name, 1)
    _transactions(kafka_broker.bootstrap, topic_name)
    old = etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url, etl_hole_after_s=0)
    run_etl(old, RunOptions())
    replayed = run_etl(old, RunOptions(replay=True, since=datetime(2000, 1, 1, tzinfo=UTC)))
    assert replayed.holes == TRANSACTIONS - 1
    _delete_offset(warehouse, "events_like", 0)

    monkeypatch.setenv("UGC_KAFKA_TOPIC", topic_name)
    monkeypatch.setenv("UGC_LOG_LEVEL", "warning")
    with pytest.raises(SystemExit) as exit_info:
        main(["quality", "check", "--url", warehouse.url, "--suite", "offset_gaps",
              "--since", "2000-01-01T00:00:00Z", "--report-dir", str(tmp_path), "--no-docs",
              "--json"])  # fmt: skip
    report = orjson.loads(capsys.readouterr().out)
    summary = report["checks"]["offset_gaps"]["summary"]
    assert (summary["missing"], summary["unexplained"]) == (TRANSACTIONS - 1 + 1, 1)
    assert exit_info.value.code == 5


def test_watermarks_and_messages_of_several_partitions_in_one_probe(
    kafka_broker, topic_name
) -> None:
    """The run's planning asks about every partition at once: a partition with messages, one
    ending in a transaction marker (a hole at its end) and an empty one."""
    create_topic(kafka_broker.bootstrap, topic_name, 3)
    produce(kafka_broker.bootstrap, topic_name, [encode(canonical_record("like"))] * 7, partition=0)
    _transactions(kafka_broker.bootstrap, topic_name, partition=1)
    with PartitionReader(kafka_broker.bootstrap, topic_name, "probe") as reader:
        marks = reader.all_watermarks([0, 1, 2])
        assert marks == {0: (0, 7), 1: (0, TRANSACTIONS * STEP), 2: (0, 0)}
        found = reader.messages_at({0: 6, 1: PER_TRANSACTION, 2: 0})
        assert found[0] is not None and found[0].offset() == 6
        assert found[1] is None  # a marker's offset
        assert found[2] is None  # the end
        found = reader.messages_at({0: 3, 1: AFTER_LAST_MESSAGE - 1})
        assert [found[0].offset(), found[1].offset()] == [3, AFTER_LAST_MESSAGE - 1]
