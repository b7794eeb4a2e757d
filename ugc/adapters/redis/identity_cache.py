"""Verified identities cached in Redis, so a known token does not cost an auth-service call.

The key is ``ugc:identity:<sha256 of the token>``: the raw token is never stored. The TTL is
``min(ttl_s, exp - now)``, so a cached identity never outlives its token.

In front of Redis sits a small in-process LRU (``peek``), keyed by the same hash and bounded by
the same TTL: a token this worker has seen costs no Redis round trip. It only mirrors Redis: an
entry is kept after a Redis hit or a successful Redis write, never when Redis is down, so with
Redis away every token still goes to the auth service as before. Its expiry is the TTL from the
moment the entry was made, so it never outlives the token either.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable

import redis.asyncio as aioredis

from ugc.adapters.redis.client import RedisGate
from ugc.events.record import Identity

KEY_PREFIX = "ugc:identity:"
#: entries in each worker's in-process LRU (a few MB at most)
LOCAL_ENTRIES = 10_000


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cache_key(token: str) -> str:
    return KEY_PREFIX + token_hash(token)


class IdentityCache:
    """``get``/``put`` verified identities; both raise ``RedisUnavailable`` when Redis is down."""

    def __init__(
        self,
        redis: aioredis.Redis,
        gate: RedisGate,
        *,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
        local_entries: int = LOCAL_ENTRIES,
    ) -> None:
        self.redis = redis
        self.gate = gate
        self.ttl_s = ttl_s
        self._clock = clock
        self.local_entries = local_entries
        #: token hash -> (identity with source "cache", expires at on ``clock``)
        self._local: OrderedDict[str, tuple[Identity, float]] = OrderedDict()

    def peek(self, token: str) -> Identity | None:
        """The identity from this worker's LRU (source ``cache``), or None; no I/O."""
        digest = token_hash(token)
        entry = self._local.get(digest)
        if entry is None:
            return None
        identity, until = entry
        if self._clock() >= until:
            del self._local[digest]
            return None
        self._local.move_to_end(digest)
        return identity

    def _keep(self, digest: str, identity: Identity) -> None:
        ttl = self.ttl_ms(identity.expires_at) / 1000
        if ttl <= 0 or self.local_entries <= 0:
            return
        self._local[digest] = (identity, self._clock() + ttl)
        self._local.move_to_end(digest)
        while len(self._local) > self.local_entries:
            self._local.popitem(last=False)

    async def get(self, token: str) -> Identity | None:
        """The cached identity (source ``cache``), or None on a miss."""
        digest = token_hash(token)
        raw = await self.gate.run(lambda: self.redis.get(KEY_PREFIX + digest))
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            identity = Identity(
                user_id=str(entry["u"]), source="cache", session_id=entry.get("s"),
                expires_at=entry.get("e"),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None  # an entry we cannot read is a miss; the put after it overwrites it
        self._keep(digest, identity)
        return identity

    async def put(self, token: str, identity: Identity) -> bool:
        """Cache a verified identity; False (and nothing stored) if it is already expired."""
        ttl_ms = self.ttl_ms(identity.expires_at)
        if ttl_ms <= 0:
            return False
        entry = json.dumps(
            {"u": identity.user_id, "s": identity.session_id, "e": identity.expires_at}
        )
        digest = token_hash(token)
        await self.gate.run(lambda: self.redis.set(KEY_PREFIX + digest, entry, px=ttl_ms))
        # only once Redis has it: with Redis down nothing is cached anywhere
        self._keep(digest, dataclasses.replace(identity, source="cache"))
        return True

    def ttl_ms(self, expires_at: float | None) -> int:
        """``min(ttl_s, exp - now)`` in milliseconds; never past the token's lifetime."""
        ttl = self.ttl_s
        if expires_at is not None:
            ttl = min(ttl, expires_at - self._clock())
        return int(ttl * 1000)
