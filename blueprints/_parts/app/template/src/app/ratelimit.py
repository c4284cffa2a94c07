"""Fixed-window rate limiting per client IP, counted atomically in Redis."""

import math
from collections.abc import Callable
from dataclasses import dataclass

from app.redis_client import GuardedRedis

Counter = Callable[[str, int], tuple[int, int]]
"""(key, window in ms) -> (requests counted in the current window, ms until it ends)."""

# INCR and the expiry in one step: no window is left without a TTL, whatever fails.
_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


def redis_counter(redis: GuardedRedis) -> Counter:
    """Count in Redis, within the client's budget and behind its breaker (RedisError if not)."""
    script = redis.client.register_script(_SCRIPT)

    def count(key: str, window_ms: int) -> tuple[int, int]:
        hits, ttl = redis.call(lambda client: script(keys=[key], args=[window_ms], client=client))
        return int(hits), int(ttl)

    return count


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    """Seconds until the window ends (at least 1)."""

    def headers(self) -> dict[str, str]:
        headers = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def decide(count: int, ttl_ms: int, limit: int) -> Decision:
    """The answer for the `count`-th request of a window that ends in `ttl_ms`."""
    return Decision(
        allowed=count <= limit,
        limit=limit,
        remaining=max(0, limit - count),
        retry_after=max(1, math.ceil(ttl_ms / 1000)),
    )


class RateLimiter:
    def __init__(self, counter: Counter, limit: int, window_seconds: int, prefix: str):
        self._counter = counter
        self.limit = limit
        self.window_seconds = window_seconds
        self._prefix = prefix

    def hit(self, client: str) -> Decision:
        count, ttl_ms = self._counter(f"{self._prefix}:ratelimit:{client}", self.window_seconds * 1000)
        return decide(count, ttl_ms, self.limit)
