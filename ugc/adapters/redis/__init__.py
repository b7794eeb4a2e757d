"""Redis adapter: the only package that imports redis.

``create_redis`` builds a lazily connecting client with short timeouts and no retries;
``RedisGate`` translates redis-py errors into ``RedisUnavailable`` and backs off after a
failure. On top of it: ``IdentityCache`` (verified identities keyed by a token hash) and
``TokenBucket`` (the per-IP rate limit, a Lua script). Whether a Redis failure is fatal is
the caller's decision; in the collector it never is.
"""

from ugc.adapters.redis.client import RedisGate, create_redis
from ugc.adapters.redis.errors import RedisUnavailable
from ugc.adapters.redis.identity_cache import IdentityCache, cache_key
from ugc.adapters.redis.rate_limit import TokenBucket

__all__ = [
    "IdentityCache",
    "RedisGate",
    "RedisUnavailable",
    "TokenBucket",
    "cache_key",
    "create_redis",
]
