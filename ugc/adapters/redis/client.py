"""The async Redis client factory and a back-off gate around every Redis call.

Why the gate: with Redis down, each request would otherwise pay a connect attempt (or a full
socket timeout when Redis hangs). After one failure the gate refuses Redis calls for
``backoff_s``, so callers skip Redis at no cost and one request per window probes it again.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from ugc.adapters.redis.errors import RedisUnavailable
from ugc.log import get_logger

T = TypeVar("T")
log = get_logger(__name__)


def create_redis(url: str, *, timeout_s: float) -> aioredis.Redis:
    """A lazily connecting client: short timeouts and no retries (the gate decides)."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


class RedisGate:
    """Runs Redis calls, translates their errors, and backs off after a failure."""

    def __init__(self, backoff_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.backoff_s = backoff_s
        self._clock = clock
        self._down_until = 0.0
        #: Redis calls that failed (not counting calls skipped while backing off)
        self.failures_total = 0

    @property
    def backing_off(self) -> bool:
        return self._clock() < self._down_until

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``; ``RedisUnavailable`` if it fails or if we are backing off."""
        if self.backing_off:
            raise RedisUnavailable("redis skipped: backing off after a failure", retry_after=1)
        try:
            return await call()
        except (RedisError, OSError, TimeoutError) as exc:
            self.failures_total += 1
            self._down_until = self._clock() + self.backoff_s
            log.warning("redis failure", extra={"error": type(exc).__name__})
            raise RedisUnavailable(f"redis failed: {type(exc).__name__}", retry_after=1) from exc
