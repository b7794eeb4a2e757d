"""A thin, lazily connecting, asyncio-friendly wrapper around ``confluent_kafka.Producer``.

``await publisher.publish(key, value)`` returns once the broker acknowledged the message
(``acks=all``) and raises ``BrokerUnavailable`` when it did not within
``kafka_acks_timeout_ms`` (librdkafka's ``message.timeout.ms``): the caller then spools it.

How an ack reaches the event loop: ``produce()`` is called on the loop thread (it never
blocks); one background thread per producer calls ``poll()``, which runs the delivery
callbacks on that thread. The callbacks only collect ``(future, error)`` pairs; after each
``poll()`` the whole batch is handed to the loop with one ``call_soon_threadsafe`` (one wake-up
per poll instead of one per message). Polling on the loop instead (``poll(0)`` from a 1 ms
timer) was measured too: about the same CPU per event, but in paired runs on a loaded machine
a p99 of 160-690 ms against 52-55 ms with the thread, so the thread stays.

A watchdog on the loop (a timer every 100 ms while reports are awaited) fails a future whose
delivery report is overdue past librdkafka's own bound (message timeout + request timeout +
2 s): seen after a fatal UNKNOWN_PRODUCER_ID from a restarted broker.

Duplicates: the producer is idempotent, so librdkafka's own retries within the timeout never
duplicate. A message that timed out *may* still have been written (the ack was lost); such a
failure says ``possibly_persisted`` on the exception. The collector spools it anyway: losing an
acknowledged event is worse than a rare duplicate, which carries the same ``event_id`` and is
removed downstream.

A fatal producer error (for example the broker forgot our producer id after a restart) retires
the client: its queue is purged (those messages fail and get spooled) and the next publish
builds a fresh producer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from ugc.errors import BrokerUnavailable
from ugc.log import get_logger
from ugc.settings import Settings

log = get_logger("ugc.adapters.kafka.producer")

#: errors after which the message certainly never reached the broker's log
_NOT_PERSISTED = frozenset(
    {
        KafkaError._PURGE_QUEUE,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError._QUEUE_FULL,
    }
)
#: the broker fenced this producer id (after in-flight timeouts librdkafka bumps its epoch and
#: tansu answers PRODUCER_FENCED to every later produce, without a fatal error): only a fresh
#: producer (a new id) gets through again
_FENCED = frozenset({KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH})
#: the poll thread's wait when nothing happens (it returns at once when a report arrives)
_POLL_SECONDS = 0.05
#: how often the loop checks for overdue delivery reports while any are awaited
_WATCHDOG_S = 0.1
#: beyond librdkafka's own bound (message timeout + request timeout) for a delivery report
_REPORT_GRACE_S = 2.0
#: a client whose deliveries have all failed for this long is replaced by a new one
_REBUILD_AFTER_S = 10.0


def producer_config(settings: Settings) -> dict[str, Any]:
    timeout = settings.kafka_acks_timeout_ms
    return {
        "bootstrap.servers": settings.kafka_bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "compression.type": settings.kafka_compression,
        "linger.ms": min(settings.kafka_linger_ms, max(timeout - 1, 0)),
        "message.timeout.ms": timeout,
        "request.timeout.ms": min(timeout, 30000),
        "socket.connection.setup.timeout.ms": max(1000, min(timeout, 30000)),
        "reconnect.backoff.max.ms": 1000,
        "queue.buffering.max.messages": 200000,
        "client.id": "ugc-collector",
    }


class _Client:
    """One ``Producer``, the thread that polls it and the loop timer of its watchdog."""

    def __init__(
        self, config: dict[str, Any], on_error: Callable[[_Client, KafkaError], None]
    ) -> None:
        self._on_error = on_error
        self.producer = Producer({**config, "error_cb": self._error, "logger": _librdkafka_log})
        self.retired = False
        #: (deadline, future) in publish order: a watchdog for delivery reports that never
        #: come (seen after a fatal UNKNOWN_PRODUCER_ID from a restarted broker), which
        #: would otherwise hold a request or the spool replay forever
        self._pending: deque[tuple[float, asyncio.Future[None]]] = deque()
        self._report_within = (
            config["message.timeout.ms"] + config["request.timeout.ms"]
        ) / 1000 + _REPORT_GRACE_S
        self._done: list[tuple[asyncio.Future[None], KafkaError | None]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._running = True
        self._thread = threading.Thread(target=self._poll_forever, name="kafka-poll", daemon=True)
        self._timer: asyncio.TimerHandle | None = None
        #: since when every delivery report has been a failure (None: the last one succeeded)
        self._failing_since: float | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread.start()

    def on_delivery(self, future: asyncio.Future[None], err: KafkaError | None, _msg: Any) -> None:
        if err is None:
            self._failing_since = None
        elif err.code() in _FENCED:
            self.retired = True  # the next publish builds a new producer
        elif err.code() not in _NOT_PERSISTED:
            # timeouts since a while: after a broker restart an idempotent producer can stay
            # stuck re-acquiring its id while every message times out; a new one is not
            now = time.monotonic()
            if self._failing_since is None:
                self._failing_since = now
            elif now - self._failing_since >= _REBUILD_AFTER_S:
                self.retired = True
        self._done.append((future, err))

    def _error(self, err: KafkaError) -> None:
        self._on_error(self, err)

    def produced(self, future: asyncio.Future[None]) -> None:
        """A message went in (loop thread): watch for its report."""
        self._pending.append((time.monotonic() + self._report_within, future))
        if self._timer is None and self._loop is not None:
            self._timer = self._loop.call_later(_WATCHDOG_S, self._watch)

    def _watch(self) -> None:
        """The watchdog's tick (loop thread); it stops when no report is awaited."""
        self._timer = None
        self._expire()
        if self._pending and self._loop is not None:
            self._timer = self._loop.call_later(_WATCHDOG_S, self._watch)

    def _poll_forever(self) -> None:
        while self._running:
            try:
                self.producer.poll(_POLL_SECONDS)
            except KafkaException as exc:  # poll re-raises a fatal error: retire this client
                if exc.args and isinstance(exc.args[0], KafkaError):
                    self._on_error(self, exc.args[0])
            except Exception:  # a callback bug must not kill the thread
                log.exception("kafka poll failed")
            self._dispatch()
            if self.retired and len(self.producer) == 0:
                self._running = False

    def _expire(self) -> None:
        """Fail futures whose delivery report is overdue: the caller spools the event (a
        copy the broker did write is removed downstream by its event_id)."""
        pending = self._pending
        now = time.monotonic()
        while pending and (pending[0][1].done() or pending[0][0] <= now):
            _deadline, future = pending.popleft()
            if not future.done():
                failure = BrokerUnavailable("kafka sent no delivery report in time", retry_after=5)
                failure.possibly_persisted = True  # type: ignore[attr-defined]
                future.set_exception(failure)
                self.retired = True  # a client that loses reports is not trusted again

    def _dispatch(self) -> None:
        """Hand the acks collected off the loop thread to the loop, in one call."""
        if not self._done or self._loop is None:
            return
        batch, self._done = self._done, []
        # a closed loop means nobody is waiting any more
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(_resolve, batch)

    @property
    def polling(self) -> bool:
        """Whether reports may still arrive or be waited for (the thread or the watchdog)."""
        return self._thread.is_alive() or self._timer is not None

    def stop_polling(self) -> None:
        """Stop the thread and the watchdog (loop thread; waits at most one poll)."""
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def flush(self, timeout: float) -> int:
        """Wait for in-flight deliveries (the poll thread must be stopped first)."""
        try:
            remaining = self.producer.flush(timeout)
        finally:
            self._dispatch()
        return remaining


_librdkafka_log = get_logger("ugc.kafka.librdkafka")


def _resolve(batch: list[tuple[asyncio.Future[None], KafkaError | None]]) -> None:
    for future, err in batch:
        if future.done():
            continue
        if err is None:
            future.set_result(None)
        else:
            future.set_exception(delivery_error(err))


def delivery_error(err: KafkaError) -> BrokerUnavailable:
    exc = BrokerUnavailable(f"kafka did not acknowledge the event: {err.str()}", retry_after=5)
    exc.kafka_code = err.code()  # type: ignore[attr-defined]
    exc.possibly_persisted = err.code() not in _NOT_PERSISTED  # type: ignore[attr-defined]
    return exc


class KafkaPublisher:
    """Publishes to one topic and awaits the broker's acknowledgement.

    Nothing connects until the first ``publish`` (or ``start``); build it after fork.
    """

    def __init__(self, settings: Settings) -> None:
        self.topic = settings.kafka_topic
        self._config = producer_config(settings)
        self._client: _Client | None = None
        self._retired: list[_Client] = []

    # ------------------------------------------------------------------ lifecycle
    def _current(self) -> _Client:
        client = self._client
        if client is None or client.retired:
            client = self._connect()
        return client

    def _connect(self) -> _Client:
        try:
            client = _Client(self._config, self._on_error)
        except KafkaException as exc:
            raise BrokerUnavailable(f"cannot create a kafka producer: {exc}") from exc
        client.start(asyncio.get_running_loop())
        self._retired = [c for c in self._retired if c.polling]
        if self._client is not None:
            self._retired.append(self._client)
        self._client = client
        return client

    async def start(self) -> None:
        self._current()

    def _on_error(self, client: _Client, err: KafkaError) -> None:
        """librdkafka's error callback: retire the client that failed fatally (not whichever
        is current: an old client's late error must not retire its healthy successor)."""
        if err.fatal():
            log.error("kafka producer fatal error; it will be rebuilt", extra={"kafka": err.str()})
            self._retire(client)

    @staticmethod
    def _retire(client: _Client) -> None:
        client.retired = True
        # a fatal producer may refuse; its messages then time out instead
        with contextlib.suppress(KafkaException):
            client.producer.purge(in_queue=True, in_flight=False)

    async def aclose(self, timeout: float = 10.0) -> int:
        """Flush in-flight deliveries and stop; returns the number of messages not delivered."""
        clients = [*self._retired, *([self._client] if self._client else [])]
        self._client, self._retired = None, []
        remaining = 0
        loop = asyncio.get_running_loop()
        for client in clients:
            client.stop_polling()
            remaining += await loop.run_in_executor(None, client.flush, timeout)
        await asyncio.sleep(0)  # let the last acks resolve their futures
        return remaining

    # ------------------------------------------------------------------ publishing
    def publish(self, key: bytes, value: bytes) -> asyncio.Future[None]:
        """Produce one message; the returned future resolves on the broker's ack.

        Awaitable exactly like ``async def publish``; it avoids a coroutine frame on the hot path.
        """
        client = self._current()
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            client.producer.produce(
                self.topic,
                value,
                key,
                on_delivery=functools.partial(client.on_delivery, future),
            )
        except BufferError as exc:
            failure = BrokerUnavailable("the kafka producer queue is full", retry_after=5)
            failure.possibly_persisted = False  # type: ignore[attr-defined]
            raise failure from exc
        except KafkaException as exc:
            if exc.args and getattr(exc.args[0], "code", lambda: None)() == KafkaError._FATAL:
                self._retire(client)
            failure = BrokerUnavailable(f"kafka refused the message: {exc}")
            failure.possibly_persisted = False  # type: ignore[attr-defined]
            raise failure from exc
        client.produced(future)
        return future

    async def reachable(self, timeout: float = 1.0) -> bool:
        """Whether the topic's metadata can be fetched (for /readyz)."""
        client = self._current()

        def probe() -> bool:
            try:
                metadata = client.producer.list_topics(self.topic, timeout=timeout)
            except KafkaException:
                return False
            topic = metadata.topics.get(self.topic)
            return topic is not None and topic.error is None

        return await asyncio.get_running_loop().run_in_executor(None, probe)

    def in_flight(self) -> int:
        return sum(len(c.producer) for c in [*self._retired, *filter(None, [self._client])])
