"""Post traffic to the collector over keep-alive HTTP/1.1 and report what came back.

``send(url, items, rate=..., concurrency=..., count=..., duration=..., batch_size=...)`` runs
``concurrency`` workers, each with its own keep-alive connection (``ugc.traffic.transport``:
a lean HTTP/1.1 client for ``http://``, ``httpx.AsyncClient`` for ``https://``),
paced by a shared token bucket (``rate`` events per second; 0 means as fast as the server
answers). With ``batch_size`` > 1 events go to ``/api/v1/events/batch`` as
``{"events": [...]}``; items that are not JSON at all cannot be put into a batch and are sent
on their own. The ``SendReport`` holds per-status counts, latency percentiles, the event ids
answered 2xx (to reconcile with Kafka and ClickHouse) and every mismatch between the status
an item expected and the one it got.

A collector that refuses connections before anything was answered raises ``Unavailable``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from ugc.errors import BadInput, Unavailable
from ugc.traffic.items import TrafficItem
from ugc.traffic.transport import Connection, HttpxPoster, NoAnswer, Poster, plain_http

EVENTS_PATH = "/api/v1/events"
BATCH_PATH = "/api/v1/events/batch"
#: status recorded for a request that got no HTTP answer (reset, timeout)
NO_ANSWER = 0
MAX_SAMPLES = 20


@dataclass
class Mismatch:
    event_type: str
    reason: str
    expected: int
    status: int
    event_id: str | None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class SendReport:
    """What happened to the items that were sent."""

    requests: int = 0
    sent: int = 0
    accepted: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    #: event ids the collector answered 2xx for (from its answer, else from the item)
    accepted_ids: list[str] = field(default_factory=list)
    mismatches: int = 0
    mismatch_samples: list[Mismatch] = field(default_factory=list)
    transport_errors: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    latencies_ms: array = field(default_factory=lambda: array("d"))
    #: (status, event_id, detail) per item in the order answered, when asked for
    answers: list[tuple[int, str | None, str]] | None = None

    @property
    def rejected(self) -> int:
        return self.sent - self.accepted

    @property
    def rate(self) -> float:
        """Events per second achieved."""
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def latency(self) -> dict[str, float]:
        if not self.latencies_ms:
            return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
        ordered = sorted(self.latencies_ms)

        def at(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 3)

        return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1], 3)}

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "mismatches": self.mismatches,
            "mismatch_samples": [m.as_dict() for m in self.mismatch_samples],
            "transport_errors": dict(self.transport_errors),
            "elapsed_s": round(self.elapsed_s, 3),
            "rate": round(self.rate, 1),
            "latency_ms": self.latency(),
        }

    # -- recording
    def _record(self, item: TrafficItem, status: int, event_id: str | None, detail: str) -> None:
        self.sent += 1
        self.by_status[status] += 1
        if self.answers is not None:
            self.answers.append((status, event_id or item.event_id, detail[:300]))
        if 200 <= status < 300:
            self.accepted += 1
            if event_id or item.event_id:
                self.accepted_ids.append(event_id or item.event_id)  # type: ignore[arg-type]
        if not item.expects(status):
            self.mismatches += 1
            if len(self.mismatch_samples) < MAX_SAMPLES:
                self.mismatch_samples.append(
                    Mismatch(
                        item.event_type,
                        item.reason,
                        item.expected_status,
                        status,
                        item.event_id,
                        detail[:300],
                    )
                )


class TokenBucket:
    """Paces callers to ``rate`` per second with a burst of ``burst``; 0 means unpaced."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.burst = max(burst, 1.0)
        self._tokens = self.burst
        self._last = time.monotonic()
        self._lock = asyncio.Lock()

    async def take(self, n: float = 1.0) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
                self._last = now
                if self._tokens >= n:
                    self._tokens -= n
                    return
                await asyncio.sleep((n - self._tokens) / self.rate)


async def send(
    url: str,
    items: Iterable[TrafficItem],
    *,
    rate: float = 0.0,
    concurrency: int = 8,
    count: int | None = None,
    duration: float | None = None,
    batch_size: int = 1,
    timeout: float = 10.0,
    headers: dict[str, str] | None = None,
    keep_answers: bool = False,
) -> SendReport:
    """Post ``items`` (at most ``count``, for at most ``duration`` seconds) to ``url``."""
    if rate < 0 or concurrency < 1 or batch_size < 1:
        raise BadInput("rate must be >= 0, concurrency and batch size >= 1")
    base = url.rstrip("/")
    await _reachable(base)
    source: Iterator[TrafficItem] = iter(items)
    if count is not None:
        source = itertools.islice(source, count)
    report = SendReport(answers=[] if keep_answers else None)
    bucket = TokenBucket(rate, burst=max(1.0, rate / 50))
    deadline = None if duration is None else time.monotonic() + duration
    started = time.monotonic()
    async with contextlib.AsyncExitStack() as stack:
        address = plain_http(base)
        if address is not None:
            posters: list[Poster] = [
                Connection(*address, timeout=timeout, headers=headers) for _ in range(concurrency)
            ]
            for poster in posters:
                stack.push_async_callback(poster.aclose)
        else:
            limits = httpx.Limits(
                max_connections=concurrency, max_keepalive_connections=concurrency
            )
            client = await stack.enter_async_context(
                httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers or {})
            )
            posters = [HttpxPoster(client, base)] * concurrency
        await asyncio.gather(
            *(_worker(poster, source, bucket, deadline, batch_size, report) for poster in posters)
        )
    report.elapsed_s = time.monotonic() - started
    if report.by_status.keys() == {NO_ANSWER} or (report.sent == 0 and report.transport_errors):
        raise Unavailable(f"the collector at {base} did not answer", hint=_errors(report))
    return report


async def _worker(
    poster: Poster,
    source: Iterator[TrafficItem],
    bucket: TokenBucket,
    deadline: float | None,
    batch_size: int,
    report: SendReport,
) -> None:
    while deadline is None or time.monotonic() < deadline:
        chunk = list(itertools.islice(source, batch_size))
        if not chunk:
            return
        await bucket.take(len(chunk))
        if deadline is not None and time.monotonic() >= deadline:
            return
        if batch_size == 1:
            await _post_one(poster, chunk[0], report)
            continue
        singles = [item for item in chunk if item.payload is None]
        batch = [item for item in chunk if item.payload is not None]
        if batch:
            await _post_batch(poster, batch, report)
        for item in singles:
            await _post_one(poster, item, report)


async def _post_one(poster: Poster, item: TrafficItem, report: SendReport) -> None:
    report.requests += 1
    began = time.perf_counter()
    try:
        status, content = await poster.post(
            EVENTS_PATH, item.body, item.content_type, idempotent=item.event_id is not None
        )
    except NoAnswer as exc:
        report.transport_errors[exc.kind] += 1
        report._record(item, NO_ANSWER, None, str(exc))
        return
    report.latencies_ms.append((time.perf_counter() - began) * 1000)
    event_id = None
    if 200 <= status < 300 and item.event_id is None:
        event_id = _answer(content).get("event_id")
    shown = not item.expects(status) or (report.answers is not None and not 200 <= status < 300)
    detail = content.decode(errors="replace") if shown else ""
    report._record(item, status, event_id, detail)


async def _post_batch(poster: Poster, items: list[TrafficItem], report: SendReport) -> None:
    report.requests += 1
    body = b'{"events":[' + b",".join(item.body for item in items) + b"]}"
    began = time.perf_counter()
    try:
        status, content = await poster.post(
            BATCH_PATH,
            body,
            "application/json",
            idempotent=all(item.event_id is not None for item in items),
        )
    except NoAnswer as exc:
        report.transport_errors[exc.kind] += 1
        for item in items:
            report._record(item, NO_ANSWER, None, str(exc))
        return
    report.latencies_ms.append((time.perf_counter() - began) * 1000)
    for item, (code, event_id, detail) in zip(
        items, batch_outcomes(status, _answer(content), len(items)), strict=True
    ):
        report._record(item, code, event_id, detail)


def batch_outcomes(
    status: int, answer: dict[str, Any], size: int
) -> list[tuple[int, str | None, str]]:
    """Per-event (status, event_id, detail) from the collector's batch answer.

    The answer (200 all accepted, 207 some, 422 none) holds ``event_ids``, one per index
    (null for a refused event), and ``errors`` keyed by index: field errors (422), or
    ``_unavailable`` when the event was valid but could not be stored (503). An answer
    without per-event ids (413, 503, ...) applies its status to every event in the batch.
    """
    event_ids = answer.get("event_ids")
    if not isinstance(event_ids, list) or len(event_ids) != size:
        return [(status, None, str(answer)[:300])] * size
    errors = answer.get("errors") if isinstance(answer.get("errors"), dict) else {}
    accepted = status if 200 <= status < 300 else 200
    outcomes: list[tuple[int, str | None, str]] = []
    for index, event_id in enumerate(event_ids):
        if isinstance(event_id, str):
            outcomes.append((accepted, event_id, ""))
            continue
        error = errors.get(str(index)) or {}
        code = 503 if isinstance(error, dict) and "_unavailable" in error else 422
        outcomes.append((code, None, str(error)[:300]))
    return outcomes


def _answer(content: bytes) -> dict[str, Any]:
    try:
        answer = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {}
    return answer if isinstance(answer, dict) else {}


async def _reachable(base: str) -> None:
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadInput(f"not an http(s) URL: {base!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), 5)
    except (OSError, TimeoutError) as exc:
        raise Unavailable(
            f"cannot connect to the collector at {base}: {exc.strerror or type(exc).__name__}",
            hint="is `ugc serve` running?",
        ) from None
    writer.close()


def _errors(report: SendReport) -> str:
    return ", ".join(f"{name} x{n}" for name, n in report.transport_errors.items())


def run(url: str, items: Iterable[TrafficItem], **options: Any) -> SendReport:
    """``send`` for synchronous callers (the CLI, scripts)."""
    return asyncio.run(send(url, items, **options))
