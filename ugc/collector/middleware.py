"""Cross-cutting HTTP concerns: request id and timing, CORS, rate limiting, lifespan."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ugc.collector.metrics import Metrics
from ugc.collector.ports import RateLimiter
from ugc.errors import RateLimited
from ugc.log import get_logger, request_id

log = get_logger("ugc.collector.http")

MAX_REQUEST_ID = 128


def _usable_request_id(value: str | None) -> bool:
    return bool(value) and len(value) <= MAX_REQUEST_ID and value.isprintable()  # type: ignore[union-attr]


class _RequestIds:
    """32 hex digits: 16 random per process (drawn after fork) + a 16-digit counter.

    Unique without a ``getrandom`` system call per request; the counter only tells the
    order of requests within one worker, which the log lines show anyway.
    """

    def __init__(self) -> None:
        self.reset()
        os.register_at_fork(after_in_child=self.reset)  # a fresh prefix in every worker

    def reset(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._count = itertools.count()

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count):016x}"


_new_request_id = _RequestIds()


class RequestContext:
    """``X-Request-ID`` taken (if sane) or generated, echoed, and put in every log line;
    the request's latency goes to the histogram and, at debug level, to an access log."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def process_request(self, req: Any, resp: Any) -> None:
        rid = req.get_header("X-Request-ID")
        if not _usable_request_id(rid):
            rid = _new_request_id()
        req.context.request_id = rid
        req.context.started = time.perf_counter()
        request_id.set(rid)

    async def process_response(self, req: Any, resp: Any, resource: Any, ok: bool) -> None:
        resp.set_header("X-Request-ID", req.context.get("request_id") or "")
        started = req.context.get("started")
        if started is None:
            return
        elapsed = time.perf_counter() - started
        route = req.uri_template or "unmatched"
        status = resp.status if isinstance(resp.status, int) else int(str(resp.status)[:3])
        self.metrics.request(route, status, elapsed)
        if log.isEnabledFor(10):  # DEBUG: an access log costs throughput, so off by default
            log.debug(
                "request",
                extra={
                    "method": req.method,
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )


class Cors:
    """CORS for an origin allowlist (``*`` allows any). Preflights are answered here."""

    ALLOW_METHODS = "GET, POST, OPTIONS"
    DEFAULT_HEADERS = "Content-Type, Content-Encoding, Authorization, X-Request-ID"
    EXPOSE = "X-Request-ID, Retry-After"
    MAX_AGE = "86400"

    def __init__(self, origins: Iterable[str]) -> None:
        origins = tuple(origins)
        self.any = "*" in origins
        self.allowed = frozenset(o.rstrip("/") for o in origins if o != "*")

    def _allow(self, origin: str | None) -> str | None:
        if not origin:
            return None
        if self.any:
            return "*"
        return origin if origin in self.allowed else None

    async def process_request(self, req: Any, resp: Any) -> None:
        if req.method != "OPTIONS" or not req.get_header("Access-Control-Request-Method"):
            return
        allow = self._allow(req.get_header("Origin"))
        resp.status = 204
        resp.complete = True
        if allow is None:
            return  # no CORS headers: the browser refuses
        requested = req.get_header("Access-Control-Request-Headers")
        headers = requested[:1024] if requested else self.DEFAULT_HEADERS
        resp.set_header("Access-Control-Allow-Methods", self.ALLOW_METHODS)
        resp.set_header("Access-Control-Allow-Headers", headers)
        resp.set_header("Access-Control-Max-Age", self.MAX_AGE)

    async def process_response(self, req: Any, resp: Any, resource: Any, ok: bool) -> None:
        origin = req.get_header("Origin")
        allow = self._allow(origin)
        if allow is None:
            return
        resp.set_header("Access-Control-Allow-Origin", allow)
        resp.set_header("Access-Control-Expose-Headers", self.EXPOSE)
        if allow != "*":
            resp.append_header("Vary", "Origin")


class RateLimit:
    """Per-client-IP limit on POSTs: 429 with Retry-After; the limiter fails open."""

    def __init__(
        self, limiter: RateLimiter, metrics: Metrics, *, trust_forwarded_for: bool
    ) -> None:
        self.limiter = limiter
        self.metrics = metrics
        self.trust_forwarded_for = trust_forwarded_for

    def client_ip(self, req: Any) -> str:
        """The address to limit: the peer, or behind one trusted proxy the entry it appended.

        The leftmost X-Forwarded-For entries are whatever the client wrote; only the rightmost
        one, added by our proxy, cannot be forged.
        """
        if self.trust_forwarded_for:
            forwarded = req.get_header("X-Forwarded-For")
            if forwarded:
                return forwarded.rsplit(",", 1)[-1].strip()[:64] or "unknown"
        return req.remote_addr or "unknown"

    async def process_request(self, req: Any, resp: Any) -> None:
        if req.method != "POST":
            return
        try:
            decision = await self.limiter.check(self.client_ip(req))
        except Exception:  # noqa: BLE001 - the limiter must never fail a request
            log.exception("rate limiter failed; letting the request through")
            self.metrics.count(self.metrics.fail_open)
            return
        if decision.degraded:
            self.metrics.count(self.metrics.fail_open)
        if not decision.allowed:
            self.metrics.count(self.metrics.rate_limited)
            raise RateLimited(
                "too many requests from this address", retry_after=max(1, decision.retry_after)
            )


class Lifespan:
    """ASGI lifespan: start collaborators in the worker (after fork), stop them on exit."""

    def __init__(
        self, startup: Callable[[], Awaitable[None]], shutdown: Callable[[], Awaitable[None]]
    ) -> None:
        self.startup = startup
        self.shutdown = shutdown

    async def process_startup(self, scope: Any, event: Any) -> None:
        await self.startup()

    async def process_shutdown(self, scope: Any, event: Any) -> None:
        await self.shutdown()
