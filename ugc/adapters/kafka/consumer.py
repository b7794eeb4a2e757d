"""The ETL's consumer: bounded reads of one partition at a time with ``assign()``.

Never ``subscribe()``: a group join costs seconds (about 23 s on tansu) and rebalances move
partitions under a batch load. Every ``assign()`` gets a consumer of its own, closed when the
read ends: once a read reaches its end librdkafka has already sent the next fetch, which the
broker holds for up to ``fetch.wait.max.ms``, and a shared consumer's next assignment would
wait behind it (2 s per partition switch measured; a new consumer costs about 5 ms). The
consumer group is used only to *publish* progress (``commit``), so standard lag tools
(``kafka-consumer-groups --describe``) show the ETL.

The high watermark. ``ListOffsets`` (``get_watermark_offsets`` without the cache) is right on
Kafka, but tansu answers with the last batch's base offset + 1. The watermark carried in fetch
responses is right on both, so ``watermarks()`` fetches once from just before the listed end
and reads the cached value (the last message of a partition is always at or after the last
batch's base offset).

Holes. tansu reserves a batch's offsets (advances the high watermark) before it writes the
batch, so for a moment a fetch can return later batches around a gap, and a write that then
fails leaves the gap for good (its producer got an error and sent the events again, at new
offsets). ``read()`` never steps over a young gap: it reads it again briefly, then stops there
(the next run looks again). Only when the message after the gap is older than ``hole_after``
seconds, far beyond any producer's delivery timeout, is the gap a ``Hole`` for the caller to
record. On Kafka, offsets jump only for transaction markers and compaction, neither of which
this topic has.

Messages are handed out as librdkafka's own objects (``.offset()``, ``.value()``, ``.key()``,
``.timestamp()``): copying a million of them into ours would cost more than the ETL's parse.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from ugc.errors import BrokerUnavailable, ConfigError
from ugc.log import get_logger

log = get_logger("ugc.adapters.kafka.consumer")

#: how long one ``consume`` call waits for messages before the loop checks again
_POLL_S = 0.5
_TRANSPORT = {
    KafkaError._TRANSPORT,
    KafkaError._TIMED_OUT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._RESOLVE,
}


#: how long a read looks at a young gap again before it stops there (a write in flight)
GAP_REREAD_S = 1.0


@dataclass(frozen=True)
class Hole:
    """Offsets ``[start, end)`` below the high watermark that hold no message."""

    start: int
    end: int
    #: the timestamp of the message at ``end``
    next_timestamp_ms: int

    @property
    def size(self) -> int:
        return self.end - self.start


class OffsetOutOfRange(Exception):
    """The broker says a position is outside the log (real Kafka; tansu just stays silent)."""


def consumer_config(bootstrap: str, group: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        # a position outside the log is an error to report, never a silent jump
        "auto.offset.reset": "error",
        "isolation.level": "read_committed",
        # tansu answers a fetch it cannot assemble within this budget with *nothing*, and
        # assembling gets slower as a partition holds more batches: at 20 ms a partition of
        # ~35k single-message batches (a soak's few minutes) could no longer be read at all.
        # Reads stop at the expected end offset and every assignment has its own consumer,
        # so nothing waits for a fetch parked at the high watermark.
        "fetch.wait.max.ms": 2000,
        "fetch.max.bytes": 32 * 1024 * 1024,
        "max.partition.fetch.bytes": 8 * 1024 * 1024,
        "queued.max.messages.kbytes": 32 * 1024,
        # when the local queue is full librdkafka pauses fetching for this long (1 s by
        # default): a loader that takes 50,000 messages at a time fills it at every batch, and
        # read a 2M backlog from tansu at 95,000 events/s; at 20 ms, 690,000-860,000 (bench_etl.py)
        "fetch.queue.backoff.ms": 20,
        "socket.connection.setup.timeout.ms": 5000,
        "client.id": "ugc-etl",
    }


class PartitionReader:
    """Reads ``[start, end)`` of one partition at a time; commits positions to the group."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        *,
        timeout: float = 10.0,
        hole_after: float = 120.0,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.timeout = timeout
        #: a gap is a hole once the message after it is this old (seconds)
        self.hole_after = hole_after
        self._config = consumer_config(bootstrap, group)
        #: metadata, offsets for times, commits: never assigned, so never behind a fetch
        self._consumer = self._new_consumer()
        #: the consumer of the current assignment (see the module docstring)
        self._fetcher: Consumer | None = None
        #: partitions of the current assignment that reported their end
        self._eof: set[int] = set()

    def _new_consumer(self) -> Consumer:
        try:
            return Consumer(self._config)
        except KafkaException as exc:
            raise ConfigError(f"bad Kafka consumer settings: {exc}") from exc

    # ------------------------------------------------------------------ metadata
    def partitions(self) -> list[int] | None:
        """The topic's partition ids, or ``None`` when the topic does not exist."""
        try:
            metadata = self._consumer.list_topics(self.topic, timeout=self.timeout)
        except KafkaException as exc:
            raise self._unavailable(exc) from exc
        found = metadata.topics.get(self.topic)
        if found is None or found.error is not None or not found.partitions:
            return None
        return sorted(found.partitions)

    def watermarks(self, partition: int) -> tuple[int, int]:
        """``(low, high)``: the first offset kept and the offset the next message will get."""
        return self.all_watermarks([partition])[partition]

    def all_watermarks(self, partitions: list[int]) -> dict[int, tuple[int, int]]:
        """``watermarks`` of several partitions, probed with one fetch for all of them (on
        tansu each probe waits for the broker to find the last batch: one at a time, that was
        seconds per run)."""
        found: dict[int, tuple[int, int]] = {}
        probe: dict[int, int] = {}
        for partition in partitions:
            tp = TopicPartition(self.topic, partition)
            try:
                low, listed = self._consumer.get_watermark_offsets(tp, timeout=self.timeout)
            except KafkaException as exc:
                raise self._unavailable(exc) from exc
            found[partition] = (low, listed)
            if listed > low:
                probe[partition] = listed
        if not probe:
            return found
        self._assign_all([(partition, listed - 1) for partition, listed in probe.items()])
        deadline = time.monotonic() + self.timeout
        try:
            while probe and time.monotonic() < deadline:
                self._poll_events(len(probe), _POLL_S)
                for partition in list(probe):
                    tp = TopicPartition(self.topic, partition)
                    high = self._fetching().get_watermark_offsets(tp, cached=True)[1]
                    if high >= 0:
                        found[partition] = (found[partition][0], max(high, probe.pop(partition)))
        finally:
            self._unassign()
        if probe:
            raise BrokerUnavailable(
                f"kafka at {self.bootstrap} did not answer a fetch of {self.topic}{sorted(probe)}"
            )
        return found

    def offset_for_time(self, partition: int, ts_ms: int) -> int | None:
        """The earliest offset whose timestamp is at or after ``ts_ms``; ``None`` = past the end.

        tansu answers at batch granularity (a little early) and says 0 where Kafka says "end":
        callers skip the messages before ``ts_ms`` themselves.
        """
        try:
            [found] = self._consumer.offsets_for_times(
                [TopicPartition(self.topic, partition, ts_ms)], timeout=self.timeout
            )
        except KafkaException as exc:
            raise self._unavailable(exc) from exc
        return None if found.offset < 0 else found.offset

    # ------------------------------------------------------------------ reading
    def read(
        self, partition: int, start: int, end: int, batch_size: int, *, holes: bool = True
    ) -> Iterator[list[Any] | Hole]:
        """Batches of at most ``batch_size`` messages with ``start <= offset < end``, in
        offset order and without gaps. At a gap: a ``Hole`` when the message after it is
        older than ``hole_after`` (and ``holes``), else the read ends there.

        Raises ``OffsetOutOfRange`` when the broker rejects ``start`` and ``BrokerUnavailable``
        when no progress is made for ``timeout`` seconds.
        """
        if start >= end:
            return
        self._assign(partition, start)
        try:
            position = start
            idle_since = time.monotonic()
            gap_since: float | None = None
            while position < end:
                want = min(batch_size, end - position)
                messages = self._poll_events(want, _POLL_S, partition=partition)
                batch = messages
                if messages and messages[-1].offset() >= end:  # in offset order
                    batch = [m for m in messages if m.offset() < end]
                if batch:
                    idle_since = time.monotonic()
                    cut = _contiguous(batch, position)
                    if cut:
                        position = batch[cut - 1].offset() + 1
                        gap_since = None
                        yield batch[:cut]
                    if cut < len(batch):  # the offsets jump: a hole, a write in flight, or stop
                        after = batch[cut]
                        after_ms = after.timestamp()[1]
                        if holes and time.time() * 1000 - after_ms >= self.hole_after * 1000:
                            gap_since = None
                            yield Hole(position, after.offset(), after_ms)
                            position = after.offset()
                        else:
                            if gap_since is None:
                                gap_since = time.monotonic()
                            if time.monotonic() - gap_since >= GAP_REREAD_S:
                                log.warning(
                                    "offsets not filled yet: the read stops before them",
                                    extra={
                                        "partition": partition,
                                        "first_offset": position,
                                        "next_offset": after.offset(),
                                        "age_s": round(time.time() - after_ms / 1000, 1),
                                    },
                                )
                                return
                            time.sleep(0.05)
                        self._assign(partition, position)
                        continue
                elif partition in self._eof:
                    return
                elif time.monotonic() - idle_since > self.timeout:
                    raise BrokerUnavailable(
                        f"kafka at {self.bootstrap} sent nothing from {self.topic}[{partition}] "
                        f"at offset {position} for {self.timeout:.0f} s (expected up to {end})"
                    )
                if messages and messages[-1].offset() >= end - 1:
                    return
        finally:
            self._unassign()

    def message_at(self, partition: int, offset: int) -> Any | None:
        """The message at ``offset``; ``None`` when there is none (a hole, or the end)."""
        return self.messages_at({partition: offset})[partition]

    def messages_at(self, offsets: dict[int, int]) -> dict[int, Any | None]:
        """``message_at`` for several partitions, with one fetch for all of them."""
        found: dict[int, Any | None] = {}
        pending = dict(offsets)
        self._assign_all(list(offsets.items()))
        deadline = time.monotonic() + self.timeout
        try:
            while pending:
                for message in self._poll_events(len(pending), _POLL_S):
                    want = pending.pop(message.partition(), None)
                    if want is not None:  # the first message from there: ours, or after a hole
                        found[message.partition()] = message if message.offset() == want else None
                for partition in self._eof & set(pending):
                    found[partition] = None
                    del pending[partition]
                if pending and time.monotonic() > deadline:
                    raise BrokerUnavailable(
                        f"kafka at {self.bootstrap} sent nothing from "
                        f"{self.topic}{sorted(pending)} for {self.timeout:.0f} s"
                    )
        finally:
            self._unassign()
        return found

    def commit(self, positions: dict[int, int]) -> None:
        """Publish next-to-read offsets to the consumer group (for lag tools; not our truth)."""
        offsets = [TopicPartition(self.topic, p, o) for p, o in positions.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise self._unavailable(exc) from exc

    def committed(self, partitions: list[int]) -> dict[int, int | None]:
        try:
            found = self._consumer.committed(
                [TopicPartition(self.topic, p) for p in partitions], timeout=self.timeout
            )
        except KafkaException as exc:
            raise self._unavailable(exc) from exc
        return {tp.partition: (tp.offset if tp.offset >= 0 else None) for tp in found}

    def close(self) -> None:
        self._unassign()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            consumer.close()

    def __enter__(self) -> PartitionReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _assign(self, partition: int, offset: int) -> None:
        self._assign_all([(partition, offset)])

    def _assign_all(self, positions: list[tuple[int, int]]) -> None:
        self._unassign()
        self._eof = set()
        self._fetcher = self._new_consumer()
        self._fetcher.assign([TopicPartition(self.topic, p, offset) for p, offset in positions])

    def _unassign(self) -> None:
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            fetcher.close()

    def _fetching(self) -> Consumer:
        assert self._fetcher is not None, "nothing assigned"
        return self._fetcher

    def _poll_events(self, count: int, timeout: float, partition: int | None = None) -> list[Any]:
        """Messages only; EOF is remembered, errors become ours."""
        try:
            events = self._fetching().consume(count, timeout)
        except KafkaException as exc:
            raise self._unavailable(exc) from exc
        messages = [event for event in events if event.error() is None]
        if len(messages) == len(events):
            return messages
        for event in events:
            err = event.error()
            if err is None:
                continue
            if err.code() == KafkaError._PARTITION_EOF:
                self._eof.add(event.partition())
            elif err.code() in (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE):
                raise OffsetOutOfRange(err.str())
            elif err.code() in _TRANSPORT:
                raise BrokerUnavailable(f"kafka at {self.bootstrap}: {err.str()}")
            elif err.code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC):
                raise ConfigError(f"topic {self.topic!r} does not exist at {self.bootstrap}")
            else:
                raise BrokerUnavailable(f"kafka at {self.bootstrap}: {err.str()}")
        return messages

    def _unavailable(self, exc: KafkaException) -> BrokerUnavailable:
        err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
        text = err.str() if err is not None else str(exc)
        return BrokerUnavailable(f"kafka at {self.bootstrap}: {text}")


def _contiguous(batch: list[Any], position: int) -> int:
    """How many messages at the head of ``batch`` follow ``position`` without a gap."""
    if batch[0].offset() == position and batch[-1].offset() - position == len(batch) - 1:
        return len(batch)
    for index, message in enumerate(batch):
        if message.offset() != position + index:
            return index
    return len(batch)
