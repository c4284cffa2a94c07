"""Rate-limit decisions and client identification.

The counting itself is a Lua script run by Redis (covered by the integration
tests); here a fake with the script's contract drives the limiter.
"""

import pytest

from app.ratelimit import RateLimiter, decide


class FakeWindowCounter:
    """The Lua script's contract: a count per key, and a window that starts at the first hit."""

    def __init__(self) -> None:
        self.now_ms = 0
        self.keys: dict[str, tuple[int, int]] = {}

    def __call__(self, key: str, window_ms: int) -> tuple[int, int]:
        count, ends = self.keys.get(key, (0, 0))
        if self.now_ms >= ends:
            count, ends = 0, self.now_ms + window_ms
        self.keys[key] = (count + 1, ends)
        return count + 1, ends - self.now_ms


def test_allows_the_limit_then_refuses_until_the_window_ends() -> None:
    counter = FakeWindowCounter()
    limiter = RateLimiter(counter, limit=3, window_seconds=60, prefix="shop")
    decisions = [limiter.hit("203.0.113.7") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert decisions[0].headers() == {"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2"}

    counter.now_ms = 20_500
    refused = limiter.hit("203.0.113.7")
    assert not refused.allowed
    assert refused.headers() == {
        "X-RateLimit-Limit": "3",
        "X-RateLimit-Remaining": "0",
        "Retry-After": "40",
    }
    assert limiter.hit("198.51.100.1").allowed, "another client has its own window"

    counter.now_ms = 60_000
    assert limiter.hit("203.0.113.7").allowed, "a new window starts"


def test_keys_are_namespaced_per_app_and_client() -> None:
    counter = FakeWindowCounter()
    RateLimiter(counter, limit=1, window_seconds=1, prefix="shop").hit("10.0.0.1")
    assert list(counter.keys) == ["shop:ratelimit:10.0.0.1"]


@pytest.mark.parametrize(
    ("ttl_ms", "retry_after"), [(1, 1), (999, 1), (1000, 1), (1001, 2), (59_999, 60), (0, 1)]
)
def test_retry_after_rounds_up_to_whole_seconds(ttl_ms: int, retry_after: int) -> None:
    assert decide(count=5, ttl_ms=ttl_ms, limit=4).retry_after == retry_after
