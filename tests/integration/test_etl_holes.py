"""Offsets that hold no message: the ETL waits for a gap to fill, then records it as a hole.

Real holes on the real broker: a transactional producer's commit marker takes an offset that
a ``read_committed`` consumer never sees (Kafka and tansu alike), so each committed
transaction leaves a one-offset gap after its messages. tansu can also leave gaps of its own
(it reserves offsets before writing a batch): see ``ugc/adapters/kafka/consumer.py``.
"""

from __future__ import annotations

from confluent_kafka import Producer

from tests.support.warehouse import canonical_record, encode, etl_settings, loaded_counts
from ugc.adapters.kafka import consumer
from ugc.adapters.kafka.admin import create_topic
from ugc.adapters.kafka.consumer import Hole, PartitionReader
from ugc.etl import RunOptions, etl_status, run_etl

TRANSACTIONS = 3
PER_TRANSACTION = 4


def _transactions(bootstrap: str, topic: str) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-tx"})
    producer.init_transactions(10)
    for _ in range(TRANSACTIONS):
        producer.begin_transaction()
        for _ in range(PER_TRANSACTION):
            key, value = encode(canonical_record("like"))
            producer.produce(topic, value, key, partition=0)
        producer.commit_transaction(10)


def test_the_reader_waits_for_a_gap_then_reports_it_as_a_hole(kafka_broker, topic_name) -> None:
    create_topic(kafka_broker.bootstrap, topic_name, 1)
    _transactions(kafka_broker.bootstrap, topic_name)
    with PartitionReader(kafka_broker.bootstrap, topic_name, "holes") as reader:
        _low, high = reader.watermarks(0)
        read = list(reader.read(0, 0, high, 100, gap_wait=0.3))
        assert reader.message_at(0, PER_TRANSACTION) is None  # a marker's offset: no message
    step = PER_TRANSACTION + 1
    expected: list[object] = []
    for n in range(TRANSACTIONS):
        expected.append(list(range(n * step, n * step + PER_TRANSACTION)))
        if n * step + PER_TRANSACTION + 1 < high:  # the last marker is past every message
            expected.append((n * step + PER_TRANSACTION, n * step + step))
    assert [
        (item.start, item.end) if isinstance(item, Hole) else [m.offset() for m in item]
        for item in read
    ] == expected


def test_holes_are_recorded_in_the_ledger_and_every_message_is_loaded(
    kafka_broker, warehouse, topic_name, monkeypatch
) -> None:
    monkeypatch.setattr(consumer, "GAP_WAIT_S", 0.3)
    create_topic(kafka_broker.bootstrap, topic_name, 1)
    _transactions(kafka_broker.bootstrap, topic_name)
    settings = etl_settings(kafka_broker.bootstrap, topic_name, warehouse.url)

    summary = run_etl(settings, RunOptions(batch_size=3))

    assert summary.loaded == TRANSACTIONS * PER_TRANSACTION
    assert summary.holes == TRANSACTIONS - 1
    assert loaded_counts(warehouse)["events_like"] == TRANSACTIONS * PER_TRANSACTION
    # the ledger accounts for every offset up to the last message, holes as skipped
    [(covered, skipped, holes)] = warehouse.rows(
        "SELECT sum(last_offset - first_offset + 1), sum(rows_skipped), countIf(mode = 'hole') "
        "FROM load_ledger"
    )
    after_last_message = TRANSACTIONS * (PER_TRANSACTION + 1) - 1  # then the last marker
    assert (int(covered), int(skipped), int(holes)) == (
        after_last_message,
        TRANSACTIONS - 1,
        TRANSACTIONS - 1,
    )
    # a second run finds nothing new and no hole twice
    again = run_etl(settings, RunOptions())
    assert (again.loaded, again.holes) == (0, 0)
    assert etl_status(settings)["partitions"][0]["ledger_position"] == after_last_message
