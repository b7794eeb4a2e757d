"""The in-process LRU in front of the Redis identity cache, and the record's fast helpers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from ugc.adapters.redis import IdentityCache, RedisGate, RedisUnavailable, cache_key
from ugc.events.record import Identity, format_ts, new_event_id

TOKEN = "aaa.bbb.ccc"


class FakeRedis:
    """Just ``get``/``set`` with a call count; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        self.calls = 0
        self.down = False

    async def get(self, key: str) -> str | None:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("down")
        return self.data.get(key)

    async def set(self, key: str, value: str, px: int) -> None:
        self.calls += 1
        if self.down:
            raise RedisConnectionError("down")
        self.data[key] = value


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make(redis: FakeRedis, clock: Clock, **kwargs: int) -> IdentityCache:
    return IdentityCache(redis, RedisGate(0.0), ttl_s=300, clock=clock, **kwargs)  # type: ignore[arg-type]


def verified(clock: Clock, lifetime: float = 3600) -> Identity:
    return Identity(
        user_id="u-1", source="auth_service", session_id="s", expires_at=clock() + lifetime
    )


def test_a_put_is_served_locally_without_redis() -> None:
    redis, clock = FakeRedis(), Clock()
    cache = make(redis, clock)
    assert cache.peek(TOKEN) is None
    asyncio.run(cache.put(TOKEN, verified(clock)))
    calls = redis.calls
    hit = cache.peek(TOKEN)
    assert hit is not None and (hit.user_id, hit.source, hit.session_id) == ("u-1", "cache", "s")
    assert redis.calls == calls
    # keyed by the hash: the raw token is in no key
    assert list(redis.data) == [cache_key(TOKEN)]
    assert all(TOKEN not in key for key in cache._local)


def test_a_redis_hit_is_kept_locally() -> None:
    redis, clock = FakeRedis(), Clock()
    writer, reader = make(redis, clock), make(redis, clock)  # two workers
    asyncio.run(writer.put(TOKEN, verified(clock)))
    assert reader.peek(TOKEN) is None
    assert asyncio.run(reader.get(TOKEN)) is not None
    assert reader.peek(TOKEN) is not None


def test_the_local_entry_never_outlives_the_token_or_the_ttl() -> None:
    redis, clock = FakeRedis(), Clock()
    cache = make(redis, clock)
    asyncio.run(cache.put(TOKEN, verified(clock, lifetime=10)))
    clock.now += 9.9
    assert cache.peek(TOKEN) is not None
    clock.now += 0.2
    assert cache.peek(TOKEN) is None
    asyncio.run(cache.put("x.y.z", verified(clock, lifetime=3600)))
    clock.now += 300
    assert cache.peek("x.y.z") is None  # identity_cache_ttl_s


def test_nothing_is_kept_while_redis_is_down() -> None:
    redis, clock = FakeRedis(), Clock()
    redis.down = True
    cache = make(redis, clock)
    with pytest.raises(RedisUnavailable):
        asyncio.run(cache.put(TOKEN, verified(clock)))
    assert cache.peek(TOKEN) is None


def test_the_lru_is_bounded() -> None:
    redis, clock = FakeRedis(), Clock()
    cache = make(redis, clock, local_entries=2)
    for token in ("a.a.a", "b.b.b", "c.c.c"):
        asyncio.run(cache.put(token, verified(clock)))
    assert cache.peek("a.a.a") is None
    assert cache.peek("b.b.b") is not None and cache.peek("c.c.c") is not None


def test_new_event_id_is_a_canonical_uuid4() -> None:
    ids = {new_event_id() for _ in range(2000)}
    assert len(ids) == 2000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_format_ts_any_offset() -> None:
    moment = datetime(2026, 11, 23, 18, 32, 56, 123456, tzinfo=UTC)
    assert format_ts(moment) == "2026-11-23T18:32:56.123Z"
    assert format_ts(moment.astimezone(timezone(timedelta(hours=3)))) == (
        "2026-11-23T18:32:56.123Z"
    )
    assert format_ts(moment.replace(tzinfo=UTC)) == "2026-11-23T18:32:56.123Z"
    assert format_ts(moment.replace(tzinfo=None, microsecond=0)) == "2026-11-23T18:32:56.000Z"
