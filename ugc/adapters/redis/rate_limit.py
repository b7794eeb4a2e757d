"""A per-key token bucket in Redis, one Lua script per check (atomic across workers).

Each key (a client IP) has a bucket of ``burst`` tokens refilled at ``rate`` per second;
a request takes one token or is refused with the seconds until one is back. The script
reads Redis's own clock (``TIME``), so workers on hosts with skewed clocks agree, and the
key expires once a full bucket would have refilled, so idle IPs cost no memory.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from ugc.adapters.redis.client import RedisGate

KEY_PREFIX = "ugc:ratelimit:"

# KEYS[1] bucket; ARGV[1] rate (tokens/s), ARGV[2] capacity. Returns {allowed, retry_after_s}.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local retry_after = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_after = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, retry_after}
"""


class TokenBucket:
    """``take(key)`` -> ``(allowed, retry_after_s)``; ``RedisUnavailable`` when Redis is down."""

    def __init__(self, redis: aioredis.Redis, gate: RedisGate, *, rate: float, burst: int) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.redis = redis
        self.gate = gate
        self.rate = rate
        self.burst = burst
        self._script = redis.register_script(TOKEN_BUCKET)

    async def take(self, key: str) -> tuple[bool, int]:
        allowed, retry_after = await self.gate.run(
            lambda: self._script(keys=[KEY_PREFIX + key], args=[self.rate, self.burst])
        )
        return bool(allowed), int(retry_after)
