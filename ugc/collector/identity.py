"""Who sent an event, and may this client send more: the collector's identity and rate limit.

The collector's composition root builds both once per worker and injects them::

    identity = build_identity(settings)        # IdentityResolver
    limiter = build_rate_limiter(settings)     # RateLimiter
    app = create_app(settings, identity=identity, limiter=limiter, ...)
    ...
    await identity.aclose(); await limiter.aclose()

``IdentityResolver.resolve(token)`` never raises and never blocks for long. The order:

1. no token                          -> anonymous            (source ``anonymous``)
2. not even shaped like a JWT        -> anonymous            (source ``invalid``)
3. Redis cache hit                   -> cached identity      (source ``cache``; a token this
                                        worker saw in Redis is kept in an in-process LRU with
                                        the same TTL, so it costs no Redis round trip)
4. auth service: valid               -> its identity, cached (source ``auth_service``)
   auth service: 401/403             -> anonymous            (source ``invalid``)
5. auth service down/slow/breaker open, or not configured:
   local pyjwt check, lifetime not checked (seed 001)
                         valid       -> its identity         (source ``local``, not cached)
                         invalid     -> anonymous            (source ``invalid``)

Redis down: steps 3-4 skip the cache; nothing fails. A token that fails verification never
yields a user id. ``RateLimiter.check(ip)`` fails open (``degraded=True``) when Redis is down.
Both keep plain counters in ``.stats`` for the Prometheus collector to read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ugc.adapters.auth import (
    AuthClient,
    AuthUnavailable,
    CircuitBreaker,
    LocalVerifier,
    TokenRejected,
    VerifiedToken,
    check_shape,
)
from ugc.adapters.redis import (
    IdentityCache,
    RedisGate,
    RedisUnavailable,
    TokenBucket,
    create_redis,
)
from ugc.events.record import ANONYMOUS, IDENTITY_SOURCES, Identity
from ugc.log import get_logger
from ugc.settings import Settings

log = get_logger(__name__)

ANONYMOUS_IDENTITY = Identity()
INVALID_IDENTITY = Identity(user_id=ANONYMOUS, source="invalid")


# ------------------------------------------------------------------------------- identity
@dataclass
class IdentityStats:
    """Counters since the worker started (monotonic; read them, never reset them)."""

    #: resolutions by identity source: auth_service, cache, local, anonymous, invalid
    sources: dict[str, int] = field(default_factory=lambda: dict.fromkeys(IDENTITY_SOURCES, 0))
    cache_hits: int = 0
    cache_misses: int = 0
    #: cache lookups or writes skipped or failed because Redis was down
    cache_errors: int = 0
    #: calls that reached for the auth service (including ones refused by the open breaker)
    auth_calls: int = 0
    #: auth service unavailable: timeout, refused, 5xx, bad answer, breaker open
    auth_unavailable: int = 0

    def count(self, identity: Identity) -> Identity:
        self.sources[identity.source] = self.sources.get(identity.source, 0) + 1
        return identity


class IdentityResolver:
    """Turns a token (or None) into an ``Identity``. See the module docstring for the order."""

    def __init__(
        self,
        *,
        local: LocalVerifier,
        auth: AuthClient | None = None,
        cache: IdentityCache | None = None,
    ) -> None:
        self.local = local
        self.auth = auth
        self.cache = cache
        self.stats = IdentityStats()

    @property
    def breaker_state(self) -> str:
        """``closed``, ``open`` or ``half_open``; ``disabled`` without an auth service."""
        return self.auth.breaker.state if self.auth is not None else "disabled"

    def snapshot(self) -> dict[str, object]:
        """Every counter plus the breaker, flat, for a Prometheus collector or a log line."""
        return {
            **dataclasses.asdict(self.stats),
            "breaker_state": self.breaker_state,
            "breaker_opened_total": self.auth.breaker.opened_total if self.auth else 0,
        }

    async def resolve(self, token: str | None) -> Identity:
        """Never raises for any token; the source says how far the token was trusted."""
        if not token:
            return self.stats.count(ANONYMOUS_IDENTITY)
        if self.cache is not None:
            # a token in the LRU was verified and had its shape checked on the way in
            known = self.cache.peek(token)
            if known is not None:
                self.stats.cache_hits += 1
                return self.stats.count(known)
        try:
            check_shape(token)
        except TokenRejected:
            return self.stats.count(INVALID_IDENTITY)
        cached = await self._cached(token)
        if cached is not None:
            return self.stats.count(cached)
        if self.auth is not None:
            try:
                verified = await self._ask_auth_service(token)
            except TokenRejected:
                return self.stats.count(INVALID_IDENTITY)
            except AuthUnavailable:
                pass  # fall back to the local check below
            else:
                identity = _identity(verified, "auth_service")
                await self._remember(token, identity)
                return self.stats.count(identity)
        return self.stats.count(self._verify_locally(token))

    async def _cached(self, token: str) -> Identity | None:
        if self.cache is None:
            return None
        try:
            identity = await self.cache.get(token)
        except RedisUnavailable:
            self.stats.cache_errors += 1
            return None
        if identity is None:
            self.stats.cache_misses += 1
        else:
            self.stats.cache_hits += 1
        return identity

    async def _ask_auth_service(self, token: str) -> VerifiedToken:
        assert self.auth is not None
        self.stats.auth_calls += 1
        try:
            return await self.auth.verify(token)
        except AuthUnavailable:
            self.stats.auth_unavailable += 1
            raise

    async def _remember(self, token: str, identity: Identity) -> None:
        if self.cache is None:
            return
        try:
            await self.cache.put(token, identity)
        except RedisUnavailable:
            self.stats.cache_errors += 1

    def _verify_locally(self, token: str) -> Identity:
        try:
            return _identity(self.local.verify(token), "local")
        except TokenRejected as exc:
            log.info("token rejected by the local check", extra={"reason": exc.reason})
            return INVALID_IDENTITY

    async def aclose(self) -> None:
        if self.auth is not None:
            await self.auth.aclose()
        if self.cache is not None:
            await self.cache.redis.aclose()


def _identity(verified: VerifiedToken, source: str) -> Identity:
    return Identity(
        user_id=verified.user_id,
        source=source,
        session_id=verified.session_id,
        expires_at=verified.expires_at,
    )


# ----------------------------------------------------------------------------- rate limit
@dataclass(frozen=True)
class RateDecision:
    """``allowed``; if not, ``retry_after`` seconds (>= 1) for the 429's Retry-After header.
    ``degraded``: Redis could not be asked and the request was let through (fail open)."""

    allowed: bool
    retry_after: int = 0
    degraded: bool = False


ALLOW = RateDecision(allowed=True)
ALLOW_DEGRADED = RateDecision(allowed=True, degraded=True)


@dataclass
class RateLimitStats:
    allowed: int = 0
    denied: int = 0
    #: requests let through because Redis was down (fail open)
    failed_open: int = 0


class RateLimiter:
    """Per-client-IP token bucket in Redis. ``bucket=None`` disables the limit."""

    def __init__(self, bucket: TokenBucket | None) -> None:
        self.bucket = bucket
        self.stats = RateLimitStats()

    @property
    def enabled(self) -> bool:
        return self.bucket is not None

    def snapshot(self) -> dict[str, object]:
        """``allowed``, ``denied``, ``failed_open`` and ``enabled``, for metrics."""
        return {**dataclasses.asdict(self.stats), "enabled": self.enabled}

    async def check(self, client_ip: str) -> RateDecision:
        """Never raises: Redis trouble means ``allowed=True, degraded=True``."""
        if self.bucket is None:
            return ALLOW
        try:
            allowed, retry_after = await self.bucket.take(client_ip)
        except RedisUnavailable:
            self.stats.failed_open += 1
            return ALLOW_DEGRADED
        if allowed:
            self.stats.allowed += 1
            return ALLOW
        self.stats.denied += 1
        return RateDecision(allowed=False, retry_after=max(1, retry_after))

    async def aclose(self) -> None:
        if self.bucket is not None:
            await self.bucket.redis.aclose()


# ------------------------------------------------------------------------------ factories
def build_identity(settings: Settings) -> IdentityResolver:
    """The resolver from settings; connects lazily (call it in the worker, after fork).

    Raises ``ConfigError`` at start-up for a key that does not fit the pinned algorithms.
    """
    local = LocalVerifier(
        settings.jwt_key,
        settings.jwt_algorithms,
        user_claim=settings.jwt_user_claim,
        session_claim=settings.jwt_session_claim,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
    )
    if not local.configured:
        log.warning("no UGC_JWT_KEY: tokens cannot be verified when the auth service is down")
    auth = None
    if settings.auth_url:
        breaker = CircuitBreaker(settings.auth_breaker_failures, settings.auth_breaker_reset_s)
        auth = AuthClient(
            settings.auth_url, timeout_s=settings.auth_timeout_ms / 1000, breaker=breaker
        )
    cache = IdentityCache(
        _redis(settings), RedisGate(settings.redis_backoff_s), ttl_s=settings.identity_cache_ttl_s
    )
    return IdentityResolver(local=local, auth=auth, cache=cache)


def build_rate_limiter(settings: Settings) -> RateLimiter:
    """The per-IP limiter from settings; ``rate_limit_per_second=0`` disables it."""
    if settings.rate_limit_per_second == 0:
        return RateLimiter(None)
    bucket = TokenBucket(
        _redis(settings),
        RedisGate(settings.redis_backoff_s),
        rate=settings.rate_limit_per_second,
        burst=settings.rate_limit_burst,
    )
    return RateLimiter(bucket)


def _redis(settings: Settings):  # unannotated: redis types stay inside the adapter
    return create_redis(settings.redis_url, timeout_s=settings.redis_timeout_ms / 1000)
