"""Identity resolution and per-IP rate limiting against a real Redis and the auth stand-in.

The stand-in (``auth_standin``) counts the verify calls it receives, which is how these tests
know whether the auth service was asked. Every test builds its resolver/limiter inside its
own event loop (``asyncio.run``) and uses fresh tokens and client IPs, so tests sharing the
session's Redis never see each other's keys.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.services import AuthStandin, RedisServer, free_port
from ugc.adapters.redis import cache_key
from ugc.collector.identity import (
    IdentityResolver,
    RateLimiter,
    build_identity,
    build_rate_limiter,
)
from ugc.events.record import Identity
from ugc.settings import Settings

TIMEOUT_MS = 80
BREAKER_FAILURES = 3
BREAKER_RESET_S = 0.4


@pytest.fixture
def standin(auth_standin: AuthStandin) -> Iterator[AuthStandin]:
    auth_standin.reset()
    yield auth_standin
    auth_standin.reset()  # the stand-in is shared by the session: leave it normal


@pytest.fixture
def settings(standin: AuthStandin, redis_server: RedisServer) -> Settings:
    return Settings.load(environ={}).replace(
        auth_url=standin.url,
        auth_timeout_ms=TIMEOUT_MS,
        auth_breaker_failures=BREAKER_FAILURES,
        auth_breaker_reset_s=BREAKER_RESET_S,
        jwt_key=standin.verification_key,
        jwt_algorithms=("RS256",),
        redis_url=redis_server.url,
        redis_timeout_ms=100,
        redis_backoff_s=0.2,
    )


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def resolve_all(settings: Settings, tokens: list[str | None]) -> tuple[list[Identity], dict]:
    """Resolve tokens in order with one resolver; return the identities and its counters."""

    async def run(resolver: IdentityResolver) -> list[Identity]:
        return [await resolver.resolve(token) for token in tokens]

    return with_resolver(settings, run)


def with_resolver(settings: Settings, body: Callable[[IdentityResolver], Awaitable[Any]]) -> Any:
    async def main() -> tuple[Any, dict]:
        resolver = build_identity(settings)
        try:
            return await body(resolver), resolver.snapshot()
        finally:
            await resolver.aclose()

    return asyncio.run(main())


def check_all(settings: Settings, ips: list[str]) -> tuple[list, RateLimiter]:
    async def main() -> tuple[list, RateLimiter]:
        limiter = build_rate_limiter(settings)
        try:
            return [await limiter.check(ip) for ip in ips], limiter
        finally:
            await limiter.aclose()

    return asyncio.run(main())


def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def fresh_ip() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(alg: str, payload: dict, secret: str | None = None) -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(payload).encode())
    if secret is None:
        return f"{header}.{body}."
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def auth_down(settings: Settings) -> Settings:
    """An auth URL where nothing listens: connection refused, i.e. the service is down."""
    return settings.replace(auth_url=f"http://127.0.0.1:{free_port()}")


# ------------------------------------------------------------------- auth service up
def test_no_token_is_anonymous_without_any_call(settings, standin):
    (identity, blank), stats = resolve_all(settings, [None, ""])
    assert identity == Identity() == blank
    assert stats["sources"]["anonymous"] == 2
    assert standin.calls() == 0


def test_valid_token_with_the_auth_service_up(settings, standin):
    uid = user()
    [identity], stats = resolve_all(settings, [standin.token(uid, sid="sess-1")])
    assert (identity.user_id, identity.source, identity.session_id) == (
        uid,
        "auth_service",
        "sess-1",
    )
    assert standin.calls() == 1
    assert stats["cache_misses"] == 1 and stats["sources"]["auth_service"] == 1


def test_cache_hit_does_not_call_the_auth_service(settings, standin):
    token = standin.token(user(), sid="s")
    first, second = resolve_all(settings, [token, token])[0]
    assert (first.source, second.source) == ("auth_service", "cache")
    assert (second.user_id, second.session_id) == (first.user_id, first.session_id)
    # another worker (a new resolver, a new connection) hits the same shared cache
    [third], stats = resolve_all(settings, [token])
    assert third.source == "cache" and stats["cache_hits"] == 1
    assert standin.calls() == 1


def test_cache_is_keyed_by_a_hash_and_never_outlives_the_token(settings, standin, redis_client):
    long_lived = standin.token(user(), expires_in=3600)
    short_lived = standin.token(user(), expires_in=3)
    resolve_all(settings, [long_lived, short_lived])
    assert 290_000 < redis_client.pttl(cache_key(long_lived)) <= 300_000  # identity_cache_ttl_s
    assert 0 < redis_client.pttl(cache_key(short_lived)) <= 3_000  # the token's own exp
    assert (
        cache_key(long_lived) == "ugc:identity:" + hashlib.sha256(long_lived.encode()).hexdigest()
    )
    stored = [redis_client.get(key) for key in redis_client.scan_iter("ugc:identity:*")]
    assert stored and not any(long_lived.encode() in value for value in stored if value)
    assert not any(long_lived in key.decode() for key in redis_client.scan_iter("*"))


def test_the_auth_service_refusing_a_token_makes_it_invalid(settings, standin, redis_client):
    expired = standin.token(user(), expires_in=-60)  # the service checks the lifetime
    [identity], stats = resolve_all(settings, [expired])
    assert (identity.user_id, identity.source) == ("anonymous", "invalid")
    assert identity.session_id is None
    assert standin.calls() == 1 and stats["auth_unavailable"] == 0
    assert redis_client.exists(cache_key(expired)) == 0  # refusals are not cached


# ------------------------------------------------------------ auth service unavailable
def test_auth_service_down_expired_but_signed_token_is_accepted_locally(settings, standin):
    uid = user()
    token = standin.token(uid, sid="s-9", expires_in=-86400)
    [identity], stats = resolve_all(auth_down(settings), [token])
    assert (identity.user_id, identity.source, identity.session_id) == (uid, "local", "s-9")
    assert stats["auth_unavailable"] == 1


def test_auth_service_answering_503_falls_back_to_the_local_check(settings, standin, redis_client):
    standin.set_mode(status=503)
    token = standin.token(user(), expires_in=-5)
    [identity], _ = resolve_all(settings, [token])
    assert identity.source == "local"
    assert standin.calls() == 1
    assert redis_client.exists(cache_key(token)) == 0  # a local verdict is never cached


def test_slow_auth_service_times_out_then_the_breaker_opens(settings, standin):
    standin.set_mode(delay_ms=1000)  # far beyond the 80 ms timeout
    tokens = [standin.token(user()) for _ in range(BREAKER_FAILURES + 3)]

    async def body(resolver: IdentityResolver) -> list[tuple[str, float]]:
        timed = []
        for token in tokens:
            started = time.perf_counter()
            identity = await resolver.resolve(token)
            timed.append((identity.source, time.perf_counter() - started))
        return timed

    timed, stats = with_resolver(settings, body)
    assert [source for source, _ in timed] == ["local"] * len(tokens)
    assert max(elapsed for _, elapsed in timed) < 0.5  # the timeout, not the 1 s delay
    assert standin.calls() == BREAKER_FAILURES  # no more calls while open
    assert stats["breaker_state"] == "open" and stats["breaker_opened_total"] == 1
    assert stats["auth_unavailable"] == len(tokens)


def test_breaker_lets_one_trial_through_after_the_reset_time(settings, standin):
    standin.set_mode(status=500)
    tokens = [standin.token(user()) for _ in range(BREAKER_FAILURES + 4)]

    async def body(resolver: IdentityResolver) -> list[Any]:
        seen = [(await resolver.resolve(token)).source for token in tokens[:BREAKER_FAILURES]]
        seen.append(resolver.breaker_state)
        await asyncio.sleep(BREAKER_RESET_S + 0.05)
        seen.append((await resolver.resolve(tokens[-4])).source)  # failed trial: open again
        seen.append(resolver.breaker_state)
        seen.append((await resolver.resolve(tokens[-3])).source)  # no call
        standin.set_mode()  # the service recovers
        await asyncio.sleep(BREAKER_RESET_S + 0.05)
        seen.append((await resolver.resolve(tokens[-2])).source)  # successful trial closes it
        seen.append(resolver.breaker_state)
        seen.append((await resolver.resolve(tokens[-1])).source)
        return seen

    seen, _ = with_resolver(settings, body)
    assert seen == ["local"] * BREAKER_FAILURES + [
        "open", "local", "open", "local", "auth_service", "closed", "auth_service",
    ]  # fmt: skip
    assert standin.calls() == BREAKER_FAILURES + 1 + 2


# -------------------------------------------------------------------- refused tokens
def _bad_tokens(standin: AuthStandin) -> dict[str, str]:
    other_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    return {
        "bad_signature": jwt.encode({"sub": "admin", "exp": now + 300}, other_private, "RS256"),
        "alg_none": forged("none", {"sub": "admin", "exp": now + 300}),
        "alg_confusion": forged(
            "HS256", {"sub": "admin", "exp": now + 300}, standin.verification_key
        ),
        "malformed": "not-a.jwt",
        "garbage_segments": "eyJhbGciOiJSUzI1NiJ9.!!!.sig",
    }


@pytest.mark.parametrize("auth", ["up", "down"])
def test_bad_tokens_never_yield_a_user_id(settings, standin, auth):
    bad = _bad_tokens(standin)
    if auth == "down":
        settings = auth_down(settings)
    identities, stats = resolve_all(settings, list(bad.values()))
    for name, identity in zip(bad, identities, strict=True):
        assert (identity.user_id, identity.source) == ("anonymous", "invalid"), name
    assert stats["sources"]["invalid"] == len(bad)
    assert stats["cache_hits"] == 0
    # shape-broken tokens never reach the auth service; the three well-shaped ones do when up
    assert standin.calls() == (3 if auth == "up" else 0)


# ------------------------------------------------------------------------ redis down
@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, so stopping it does not disturb the session's."""
    with RedisServer(tmp_path) as server:
        yield server


def test_redis_stopped_resolution_still_works_through_the_auth_service(
    settings, standin, own_redis
):
    settings = settings.replace(redis_url=own_redis.url)
    token = standin.token(user())
    own_redis.stop()
    identities, stats = resolve_all(settings, [token, token])
    assert [identity.source for identity in identities] == ["auth_service", "auth_service"]
    assert standin.calls() == 2  # no cache, so the service is asked each time
    assert stats["cache_errors"] >= 2 and stats["cache_hits"] == 0


def test_hung_redis_does_not_stall_resolution(settings, standin, own_redis):
    settings = settings.replace(redis_url=own_redis.url, redis_backoff_s=5.0)
    token = standin.token(user())
    own_redis.pause()  # accepts connections, never answers
    try:
        started = time.perf_counter()
        identities, _ = resolve_all(settings, [token] * 5)
        elapsed = time.perf_counter() - started
    finally:
        own_redis.resume()
    assert [identity.source for identity in identities] == ["auth_service"] * 5
    # one Redis timeout (100 ms), then the back-off skips Redis; without it: 10 x 100 ms
    assert elapsed < 1.0


# ---------------------------------------------------------------------- rate limiting
def test_limiter_allows_up_to_the_burst_then_denies_with_retry_after(settings):
    settings = settings.replace(rate_limit_per_second=1, rate_limit_burst=5)
    ip = fresh_ip()
    decisions, limiter = check_all(settings, [ip] * 7)
    assert [decision.allowed for decision in decisions] == [True] * 5 + [False] * 2
    assert all(decision.retry_after >= 1 for decision in decisions[5:])
    assert not any(decision.degraded for decision in decisions)
    assert (limiter.stats.allowed, limiter.stats.denied, limiter.stats.failed_open) == (5, 2, 0)


def test_one_limited_ip_does_not_limit_another(settings):
    settings = settings.replace(rate_limit_per_second=1, rate_limit_burst=2)
    noisy, quiet = fresh_ip(), fresh_ip()
    decisions, _ = check_all(settings, [noisy, noisy, noisy, quiet, "2001:db8::1" + noisy[-1]])
    assert [decision.allowed for decision in decisions] == [True, True, False, True, True]


def test_bucket_refills_at_the_rate_and_is_shared_by_workers(settings):
    settings = settings.replace(rate_limit_per_second=4, rate_limit_burst=2)
    ip = fresh_ip()
    first, _ = check_all(settings, [ip] * 3)
    assert [decision.allowed for decision in first] == [True, True, False]
    second, _ = check_all(settings, [ip])  # another worker, same bucket in Redis
    assert second[0].allowed is False
    time.sleep(0.3)  # 4/s: one token back after 0.25 s, the next one at 0.5 s
    third, _ = check_all(settings, [ip] * 2)
    assert [decision.allowed for decision in third] == [True, False]


def test_limit_zero_disables_the_limiter_without_touching_redis(settings):
    settings = settings.replace(
        rate_limit_per_second=0, redis_url=f"redis://127.0.0.1:{free_port()}/0"
    )
    decisions, limiter = check_all(settings, ["10.0.0.1"] * 1000)
    assert all(d.allowed and not d.degraded for d in decisions) and not limiter.enabled


def test_redis_down_the_limiter_fails_open_and_says_so(settings, own_redis):
    settings = settings.replace(
        rate_limit_per_second=1, rate_limit_burst=1, redis_url=own_redis.url, redis_backoff_s=5.0
    )
    own_redis.stop()
    started = time.perf_counter()
    decisions, limiter = check_all(settings, ["10.9.9.9"] * 50)
    assert time.perf_counter() - started < 1.0
    assert all(decision.allowed and decision.degraded for decision in decisions)
    assert limiter.snapshot() == {"allowed": 0, "denied": 0, "failed_open": 50, "enabled": True}
    assert limiter.bucket.gate.failures_total == 1  # backed off: Redis was tried once, not 50x


def test_limiter_recovers_when_redis_comes_back(settings, own_redis):
    settings = settings.replace(
        rate_limit_per_second=1, rate_limit_burst=1, redis_url=own_redis.url
    )
    ip = fresh_ip()

    async def body() -> list[tuple[bool, bool]]:
        limiter = build_rate_limiter(settings)
        try:
            seen = []
            own_redis.stop()
            seen.append(await limiter.check(ip))
            own_redis.start()  # same port
            await asyncio.sleep(settings.redis_backoff_s + 0.05)
            seen += [await limiter.check(ip), await limiter.check(ip)]
            return [(decision.allowed, decision.degraded) for decision in seen]
        finally:
            await limiter.aclose()

    assert asyncio.run(body()) == [(True, True), (True, False), (False, False)]
