"""What the Redis adapter raises; redis-py errors never leave this package."""

from __future__ import annotations

from ugc.errors import Unavailable


class RedisUnavailable(Unavailable):
    """Redis is down, slow, or we are backing off after a recent failure."""

    code = "redis_unavailable"
