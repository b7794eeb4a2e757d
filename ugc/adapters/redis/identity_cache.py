"""Verified identities cached in Redis, so a known token does not cost an auth-service call.

The key is ``ugc:identity:<sha256 of the token>``: the raw token is never stored. The TTL is
``min(ttl_s, exp - now)``, so a cached identity never outlives its token.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable

import redis.asyncio as aioredis

from ugc.adapters.redis.client import RedisGate
from ugc.events.record import Identity

KEY_PREFIX = "ugc:identity:"


def cache_key(token: str) -> str:
    return KEY_PREFIX + hashlib.sha256(token.encode()).hexdigest()


class IdentityCache:
    """``get``/``put`` verified identities; both raise ``RedisUnavailable`` when Redis is down."""

    def __init__(
        self,
        redis: aioredis.Redis,
        gate: RedisGate,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.gate = gate
        self.ttl_s = ttl_s
        self._clock = clock

    async def get(self, token: str) -> Identity | None:
        """The cached identity (source ``cache``), or None on a miss."""
        raw = await self.gate.run(lambda: self.redis.get(cache_key(token)))
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            return Identity(
                user_id=str(entry["u"]), source="cache", session_id=entry.get("s"),
                expires_at=entry.get("e"),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None  # an entry we cannot read is a miss; the put after it overwrites it

    async def put(self, token: str, identity: Identity) -> bool:
        """Cache a verified identity; False (and nothing stored) if it is already expired."""
        ttl_ms = self.ttl_ms(identity.expires_at)
        if ttl_ms <= 0:
            return False
        entry = json.dumps(
            {"u": identity.user_id, "s": identity.session_id, "e": identity.expires_at}
        )
        await self.gate.run(lambda: self.redis.set(cache_key(token), entry, px=ttl_ms))
        return True

    def ttl_ms(self, expires_at: float | None) -> int:
        """``min(ttl_s, exp - now)`` in milliseconds; never past the token's lifetime."""
        ttl = self.ttl_s
        if expires_at is not None:
            ttl = min(ttl, expires_at - self._clock())
        return int(ttl * 1000)
