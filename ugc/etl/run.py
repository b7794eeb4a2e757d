"""``ugc etl run``: drain the topic into the warehouse, batch by batch, effectively once.

Per partition, per batch (at most ``batch_size`` messages of one partition):

1. route: parse, validate, build one column block per event table plus dead letters;
2. insert the blocks (each row carries ``kafka_partition``/``kafka_offset``);
3. write the ledger row for the batch (the new position);
4. commit the position to the consumer group (for lag tools only).

Steps 2 and 3 run on a store thread, one batch at a time, while this thread reads and routes
the next batch; step 4 follows once the store thread is done with the batch.

A crash between 2 and 3 re-delivers the batch on the next run: the same rows again, at the same
positions, which the ReplacingMergeTree key and the reader views collapse. A crash after 3
loses nothing. The ledger is written only after its rows, so it never claims more than was
written.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ugc.adapters.clickhouse import Warehouse, connect
from ugc.adapters.kafka.consumer import Hole, OffsetOutOfRange, PartitionReader
from ugc.errors import ConfigError, IntegrityError
from ugc.etl.heap import give_back, lean_heap
from ugc.etl.ledger import Entry, Ledger, Position, RunLog, now_iso
from ugc.etl.lock import WarehouseLock
from ugc.etl.plan import PartitionPlan, backwards_error, plan_partition, to_ms
from ugc.etl.route import Routed, Router, Tally
from ugc.events import REGISTRY
from ugc.events.registry import Registry
from ugc.log import get_logger
from ugc.settings import Settings

Progress = Callable[[int], None]
log = get_logger("ugc.etl")
#: messages routed per insert. chdb writes a part per insert and table and merges the parts in
#: the background: fewer, larger parts cost less CPU and memory (2M events on chdb: a default
#: batch of 50,000 in one chunk, against two of 25,000, ~3 % faster and ~40 MiB less at peak)
_CHUNK = 100_000


@dataclass(frozen=True)
class RunOptions:
    since: datetime | None = None
    until: datetime | None = None
    replay: bool = False
    batch_size: int = 50_000
    max_events: int | None = None
    dry_run: bool = False


@dataclass
class PartitionResult:
    partition: int
    mode: str
    start: int
    end: int
    next_offset: int
    loaded: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    #: offsets below the high watermark that held no message (see ``Hole``)
    holes: int = 0
    batches: int = 0


@dataclass
class Batch:
    """A routed batch: its ledger row, its counts and how many messages it took."""

    entry: Entry
    tally: Tally
    consumed: int


@dataclass
class RunSummary:
    run_id: str
    topic: str
    warehouse: str
    backend: str
    dry_run: bool
    status: str = "ok"
    loaded: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    holes: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    partitions: list[PartitionResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        handled = self.loaded + self.dead_lettered
        return round(handled / self.seconds, 1) if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["events_per_second"] = self.events_per_second
        data["lag"] = sum(p.end - p.next_offset for p in self.partitions)
        return data

    def one_line(self) -> str:
        dry = " (dry run: nothing written)" if self.dry_run else ""
        holes = f"; {self.holes} offsets held no message" if self.holes else ""
        return (
            f"etl run {self.run_id}: loaded {self.loaded}, dead-lettered {self.dead_lettered}, "
            f"skipped {self.skipped} from {self.topic} ({len(self.partitions)} partitions) "
            f"into {self.warehouse} in {self.seconds:.2f} s "
            f"({self.events_per_second:,.0f} events/s){holes}{dry}"
        )


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def run_etl(
    settings: Settings,
    options: RunOptions,
    *,
    registry: Registry = REGISTRY,
    progress: Progress | None = None,
    on_plan: Callable[[list[PartitionPlan]], None] | None = None,
) -> RunSummary:
    """One bounded run; raises ``ugc.errors`` (see docs/etl.md for the exit codes)."""
    if options.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    if options.since and options.until and options.until <= options.since:
        raise ConfigError("--until must be after --since")
    with (
        lean_heap(),
        _fewer_collections(),
        connect(settings.warehouse_url) as warehouse,
        PartitionReader(
            settings.kafka_bootstrap,
            settings.kafka_topic,
            settings.etl_group,
            hole_after=settings.etl_hole_after_s,
        ) as reader,
    ):
        loader = Loader(warehouse, reader, registry, options, progress=progress, on_plan=on_plan)
        return loader.run()


class Loader:
    def __init__(
        self,
        warehouse: Warehouse,
        reader: PartitionReader,
        registry: Registry,
        options: RunOptions,
        *,
        progress: Progress | None = None,
        on_plan: Callable[[list[PartitionPlan]], None] | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.reader = reader
        self.topic = reader.topic
        self.options = options
        self.progress = progress or (lambda _n: None)
        self.on_plan = on_plan
        self.run_id = new_run_id()
        self.router = Router(registry, self.topic)
        self.ledger = Ledger(warehouse)
        self.runs = RunLog(warehouse, self.run_id, self.topic)
        self.lock = WarehouseLock(warehouse, self.run_id)
        self.summary = RunSummary(
            self.run_id, self.topic, warehouse.url, warehouse.kind, options.dry_run
        )
        self._budget = options.max_events

    # ------------------------------------------------------------------ the run
    def run(self) -> RunSummary:
        started = time.monotonic()
        self.ledger.positions(self.topic)  # an unmigrated warehouse fails before the lock
        if not self.options.dry_run:
            self.lock.acquire()
        try:
            if not self.options.dry_run:
                self.runs.record("running", self._options())
            # read under the lock: a run that just finished has moved them
            plans = self.plan(self.ledger.positions(self.topic))
            log.info(
                "run planned",
                extra={
                    "run_id": self.run_id,
                    "topic": self.topic,
                    "plan": [(p.partition, p.mode, p.start, p.end) for p in plans],
                },
            )
            if self.on_plan:
                self.on_plan(plans)
            for plan in plans:
                self.summary.partitions.append(self.load_partition(plan))
                if self._budget is not None and self._budget <= 0:
                    break
            self.summary.seconds = time.monotonic() - started
            if not self.options.dry_run:
                self.runs.record("ok", self._options(), self._counts())
        except BaseException as exc:
            self.summary.status = "failed"
            self._abandon()
            self._record_failure(exc)
            raise
        finally:
            self._release()
        return self.summary

    def plan(self, positions: dict[int, Position]) -> list[PartitionPlan]:
        partitions = self.reader.partitions()
        if partitions is None:
            if positions:
                raise IntegrityError(
                    f"topic {self.topic!r} no longer exists, but the ledger has loaded it",
                    hint="recreate the topic, then `ugc etl run --replay --since TS`",
                )
            raise ConfigError(f"topic {self.topic!r} does not exist at {self.reader.bootstrap}")
        missing = sorted(set(positions) - set(partitions))
        if missing and not self.options.replay:
            raise IntegrityError(
                f"the ledger has loaded partitions {missing} of {self.topic!r}, "
                f"which the broker no longer has",
                hint="the topic was recreated: `ugc etl run --replay --since TS`",
            )
        since_ms = to_ms(self.options.since)
        watermarks = self.reader.all_watermarks(partitions)
        #: the ledger's last message, per partition read on from the ledger, if still kept
        fingerprints: dict[int, Position] = {}
        plans = []
        for partition in partitions:
            low, high = watermarks[partition]
            position = positions.get(partition)
            since_offset = None
            if since_ms is not None and (self.options.replay or position is None):
                since_offset = self.reader.offset_for_time(partition, since_ms)
            plan = plan_partition(
                self.topic,
                partition,
                low,
                high,
                position,
                since_offset=since_offset,
                since_ms=since_ms,
                replay=self.options.replay,
            )
            if (
                plan.mode == "ledger"
                and position is not None
                and position.last_ts_s is not None
                and low <= position.last_offset < high
            ):
                fingerprints[partition] = position
            plans.append(plan)
        self._check_fingerprints(fingerprints)
        return plans

    def load_partition(self, plan: PartitionPlan) -> PartitionResult:
        result = PartitionResult(plan.partition, plan.mode, plan.start, plan.end, plan.start)
        skip_before = plan.skip_before_ms
        until_ms = to_ms(self.options.until)
        try:
            for messages in self.reader.read(
                plan.partition, plan.start, plan.end, self.options.batch_size
            ):
                if isinstance(messages, Hole):
                    self._settle()  # its ledger row after the batch before it
                    self._record_hole(plan, result, messages)
                    continue
                skipped = 0
                if skip_before is not None:
                    skipped = _first_at_or_after(messages, skip_before)
                    if skipped < len(messages):
                        skip_before = None
                handled = messages[skipped:]
                stop = False
                if until_ms is not None:
                    cut = _first_at_or_after(handled, until_ms)
                    stop = cut < len(handled)
                    handled = handled[:cut]
                if self._budget is not None and len(handled) >= self._budget:
                    stop = True
                    handled = handled[: self._budget]
                consumed = messages[: skipped + len(handled)]
                if consumed:
                    self._load_batch(plan, result, consumed, handled, skipped)
                if stop or not consumed:
                    break
            self._settle()
        except OffsetOutOfRange as exc:
            position = plan.ledger_position if plan.ledger_position is not None else plan.start
            low, high = self.reader.watermarks(plan.partition)
            raise backwards_error(self.topic, plan.partition, position, low, high) from exc
        return result

    def _record_hole(self, plan: PartitionPlan, result: PartitionResult, hole: Hole) -> None:
        """Offsets the broker counts but never filled, and the message after them older than
        ``etl_hole_after_s`` (far past any producer's delivery timeout: no acknowledged event
        can still land there). A ledger row accounts for them, as skipped, so the quality
        check's offset reconciliation explains them, and the run moves on."""
        log.warning(
            "offsets without messages skipped",
            extra={
                "run_id": self.run_id,
                "partition": plan.partition,
                "first_offset": hole.start,
                "next_offset": hole.end,
            },
        )
        if not self.options.dry_run:
            self.ledger.write(
                Entry(
                    self.topic,
                    plan.partition,
                    hole.start,
                    hole.end - 1,
                    hole.end,
                    0,
                    0,
                    hole.size,
                    hole.next_timestamp_ms,
                    hole.next_timestamp_ms,
                    "hole",
                    self.run_id,
                )
            )
            self.reader.commit({plan.partition: hole.end})
            self.lock.heartbeat(every_s=10.0)
        result.next_offset = hole.end
        result.holes += hole.size
        self.summary.holes += hole.size

    # ------------------------------------------------------------------ one batch
    #: the store thread: started on the first batch that writes, stopped by ``_release``
    _store_thread: ThreadPoolExecutor | None = None
    #: the batch handed to the store thread, and what ``_settle`` needs to account for it
    _pending: tuple[Future[None] | None, PartitionPlan, PartitionResult, Batch] | None = None

    def _load_batch(
        self,
        plan: PartitionPlan,
        result: PartitionResult,
        consumed: list[Any],
        handled: list[Any],
        skipped: int,
    ) -> None:
        """Route the batch here, then hand it to the store thread and return: this thread
        reads and routes the next batch while that one inserts this one (chdb and the socket
        wait of clickhouse-driver release the GIL; Arrow's parse does too).

        The store thread writes a batch's rows, then its ledger row, one batch at a time and
        in order, so the ledger never claims more than was written. ``_settle`` waits for a
        batch before the next is handed over, so one batch is routed while one is stored.
        """
        first, last = consumed[0], consumed[-1]
        loaded_at = now_iso()
        tally = Tally()
        chunks = []
        with _no_gc():
            for start in range(0, len(handled), _CHUNK):
                routed = self.router.route(
                    handled[start : start + _CHUNK], plan.partition, self.run_id, loaded_at
                )
                tally.add(routed)
                chunks.append(routed)
        batch = Batch(
            entry=Entry(
                self.topic,
                plan.partition,
                first.offset(),
                last.offset(),
                last.offset() + 1,
                tally.loaded,
                tally.dead_lettered,
                skipped,
                first.timestamp()[1],
                last.timestamp()[1],
                plan.mode,
                self.run_id,
            ),
            tally=tally,
            consumed=len(consumed),
        )
        if self._budget is not None:
            self._budget -= len(handled)
        self._settle()
        future = None
        if not self.options.dry_run:
            if self._store_thread is None:
                self._store_thread = ThreadPoolExecutor(1, thread_name_prefix="ugc-etl-store")
            future = self._store_thread.submit(self._store, chunks, batch.entry)
        self._pending = (future, plan, result, batch)

    def _store(self, chunks: list[Routed], entry: Entry) -> None:
        """On the store thread: the batch's rows, then its ledger row."""
        for routed in chunks:
            for block in [*routed.blocks, *([routed.dead] if routed.dead else [])]:
                self.warehouse.insert(block.table, block.columns, block.data)
        self.ledger.write(entry)
        self.lock.heartbeat(every_s=10.0)

    def _settle(self) -> None:
        """Wait for the batch on the store thread (its error is raised here), then account
        for it: the group commit, the counts, the progress bar."""
        if self._pending is None:
            return
        future, plan, result, batch = self._pending
        entry, tally = batch.entry, batch.tally
        if future is not None:
            future.result()  # interrupted or failed: still pending, for ``_abandon``
            self._pending = None
            self.reader.commit({plan.partition: entry.next_offset})
        self._pending = None
        give_back()  # what the stored batch freed, before the next one is handed over
        result.next_offset = entry.next_offset
        log.info(
            "batch loaded",
            extra={
                "run_id": self.run_id,
                "partition": plan.partition,
                "first_offset": entry.first_offset,
                "next_offset": entry.next_offset,
                "loaded": tally.loaded,
                "dead_lettered": tally.dead_lettered,
                "skipped": entry.rows_skipped,
                "dry_run": self.options.dry_run,
            },
        )
        result.loaded += tally.loaded
        result.dead_lettered += tally.dead_lettered
        result.skipped += entry.rows_skipped
        result.batches += 1
        self._count(tally, entry.rows_skipped)
        self.progress(batch.consumed)

    def _count(self, tally: Tally, skipped: int) -> None:
        summary = self.summary
        summary.loaded += tally.loaded
        summary.dead_lettered += tally.dead_lettered
        summary.skipped += skipped
        for table, rows in tally.tables.items():
            summary.tables[table] = summary.tables.get(table, 0) + rows
        for reason, count in tally.reasons.items():
            summary.reasons[reason] = summary.reasons.get(reason, 0) + count

    # ------------------------------------------------------------------ helpers
    def _check_fingerprints(self, positions: dict[int, Position]) -> None:
        """The message the ledger saw last in each partition must still be there, with the same
        timestamp (one fetch for all the partitions)."""
        if not positions:
            return
        found = self.reader.messages_at({p: pos.last_offset for p, pos in positions.items()})
        for partition, position in positions.items():
            message = found.get(partition)
            if message is None:
                continue
            seen_s = message.timestamp()[1] // 1000
            if seen_s != position.last_ts_s:
                raise IntegrityError(
                    f"offset {position.last_offset} of {self.topic}[{partition}] now holds a "
                    f"different message than the one loaded (timestamp {seen_s} s, ledger says "
                    f"{position.last_ts_s} s): the topic was recreated or the broker lost its "
                    "state",
                    hint="re-read from a known time with `ugc etl run --replay --since TS`",
                )

    def _options(self) -> dict[str, Any]:
        data = asdict(self.options)
        data["pid"] = os.getpid()
        return data

    def _counts(self) -> tuple[int, int, int]:
        summary = self.summary
        return (summary.loaded, summary.dead_lettered, summary.skipped + summary.holes)

    def _record_failure(self, exc: BaseException) -> None:
        if self.options.dry_run or not self.lock.held:
            return
        # the warehouse may be the thing that failed
        with contextlib.suppress(Exception):
            self.runs.record(
                "failed", self._options(), self._counts(), f"{type(exc).__name__}: {exc}"
            )

    def _abandon(self) -> None:
        """After an error (or Ctrl-C): let the store thread finish the batch it has, so nothing
        else uses the warehouse meanwhile, and count that batch if it was stored."""
        if self._pending is None:
            return
        future = self._pending[0]
        if future is not None:
            wait([future])
        if future is None or future.exception() is None:
            with contextlib.suppress(Exception):  # the broker may be what failed
                self._settle()
        self._pending = None

    def _release(self) -> None:
        if self._store_thread is not None:
            self._store_thread.shutdown()
            self._store_thread = None
        # a dead warehouse keeps a stale lock; the next run takes it over
        with contextlib.suppress(Exception):
            self.lock.release()


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is routed.

    Routing allocates many objects that live until the insert (on the record-by-record path, a
    dict per record and per nested object); the collector would rescan them over and over
    (about 40 % of the routing time, measured on that path). They hold no reference cycles,
    so reference counting frees them all.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the cyclic garbage collector less often during a run: every 50,000 net allocations
    instead of 700. A run creates and frees a batch of message objects at a time (and the
    driver a Python object per value), and the default schedule rescans them over and over:
    clickhouse-server 97-99k -> 107-109k events/s, about the same as with no collector at all.
    Cycles are still collected, so garbage stays bounded."""
    thresholds = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


def _first_at_or_after(messages: list[Any], ts_ms: int) -> int:
    for index, message in enumerate(messages):
        if message.timestamp()[1] >= ts_ms:
            return index
    return len(messages)
