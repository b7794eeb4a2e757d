"""Where an accepted event goes: Kafka (acked) or, while Kafka is away, the durable spool.

``Delivery.store`` returns only when the record is safe: acknowledged by the broker
(``acks=all``) or fsync'd to the spool. If neither is possible it raises ``Unavailable``
(``SpoolFull``), which the HTTP layer answers with 503 and ``Retry-After``.

Two modes:

* **direct** (normal): publish and await the ack. A failed ack switches to spooling (the record
  that failed is spooled too).
* **spooling**: new records go straight to the spool (no 5 s wait per request for an ack that
  will not come), and the replay task drains the spool in order, starting with a one-record
  probe. When the spool is empty again the mode returns to direct. Records reach Kafka in the
  order they were spooled.

The replay task also adopts the spool files of dead workers (see ``ugc.collector.spool``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from ugc.collector.metrics import Metrics
from ugc.collector.ports import Publisher
from ugc.collector.spool import Spool
from ugc.errors import BrokerUnavailable, SpoolFull
from ugc.log import get_logger

log = get_logger("ugc.collector.delivery")

KAFKA = "kafka"
SPOOL = "spool"
_TICK_S = 1.0
_ADOPT_EVERY_S = 10.0
_MAX_BACKOFF_S = 2.0


class Delivery:
    def __init__(self, publisher: Publisher, spool: Spool, metrics: Metrics) -> None:
        self.publisher = publisher
        self.spool = spool
        self.metrics = metrics
        self.spooling = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ the hot path
    async def store(self, key: bytes, value: bytes) -> str:
        """Make one record safe; returns ``"kafka"`` or ``"spool"``. Raises ``Unavailable``."""
        if not self.spooling:
            try:
                await self.publisher.publish(key, value)
            except BrokerUnavailable as exc:
                self._broker_failed(exc)
            else:
                return KAFKA
        await self._spool(key, value)
        return SPOOL

    def _broker_failed(self, exc: BrokerUnavailable) -> None:
        maybe = bool(getattr(exc, "possibly_persisted", True))
        self.metrics.publish_failures.labels(possibly_persisted=str(maybe).lower()).inc()
        if not self.spooling:
            log.warning("kafka unavailable; spooling events", extra={"reason": exc.message})
        self.spooling = True
        self._wake.set()

    async def _spool(self, key: bytes, value: bytes) -> None:
        try:
            await self.spool.append(key, value)
        finally:
            self.metrics.set_spool(self.spool.records, self.spool.bytes)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Open the spool, adopt dead workers' files and start the replay task."""
        try:
            self.spool.open()
            if self.spool.adopt_orphans():
                self.spooling = True
                self._wake.set()
        except SpoolFull as exc:
            log.error("spool unavailable; 503 while kafka is down", extra={"reason": exc.message})
        self.metrics.set_spool(self.spool.records, self.spool.bytes)
        self._task = asyncio.create_task(self._replay_forever(), name="spool-replay")

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop replay after its current window, then close the spool."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
                with contextlib.suppress(BaseException):
                    await self._task
        self.spool.close()
        self.metrics.sync_stats()

    # ------------------------------------------------------------------ replay
    async def _replay_forever(self) -> None:
        backoff = _TICK_S
        last_adopt = time.monotonic()
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), backoff)
            self._wake.clear()
            if self._stopping:
                break
            if time.monotonic() - last_adopt > _ADOPT_EVERY_S:
                last_adopt = time.monotonic()
                if self._adopt():
                    self.spooling = True
            self.metrics.sync_stats()
            if not self.spooling:
                backoff = _TICK_S
                continue
            backoff = await self._replay_once(backoff)

    def _adopt(self) -> int:
        try:
            return self.spool.adopt_orphans()
        except OSError as exc:
            log.warning("cannot adopt spool files", extra={"reason": str(exc)})
            return 0

    async def _replay_once(self, backoff: float) -> float:
        before = self.spool.records
        try:
            drained = await self.spool.drain(self.publisher.publish, stop=lambda: self._stopping)
        except OSError as exc:
            log.error("spool replay failed", extra={"reason": str(exc)})
            drained = False
        replayed = before - self.spool.records
        if replayed > 0:
            self.metrics.replayed.inc(replayed)
        self.metrics.set_spool(self.spool.records, self.spool.bytes)
        if drained and self.spool.empty:
            self.spooling = False
            log.info("spool drained; publishing directly again", extra={"replayed": replayed})
            return _TICK_S
        # progress but not empty (events kept arriving): go again at once
        return 0.01 if replayed > 0 else min(max(backoff, _TICK_S) * 2, _MAX_BACKOFF_S)
