"""The Redis client: one server named by a URL, or the primary that Redis Sentinel names.

Redis is not needed to serve: the rate limiter and the cache work around it (see
middleware.py and cache.py). So a lost or slow Redis must not make requests slow:

- every call has a time budget (APP_REDIS_BUDGET_MS, 100 ms by default): it is the
  connect timeout and the read timeout, there are no retries, and with sentinels the
  discovery of the primary shares the budget (each sentinel gets budget / sentinels);
- a circuit breaker (GuardedRedis): after a failure Redis is skipped for
  APP_REDIS_RETRY_AFTER_SECONDS (5 s by default); then one request probes it
  (half-open) and closes the breaker if it answers, or opens it again if not.

The breaker logs when it opens and closes (not once per request).
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from app.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

HEALTH_CHECK_INTERVAL = 30
"""Seconds a pooled connection may idle before it is pinged before reuse."""


class RedisUnavailable(RedisConnectionError):
    """Redis was not called: the breaker is open after a recent failure."""


def client_options(budget_ms: int) -> dict[str, Any]:
    """Connection options keeping one call within `budget_ms`: timeouts, and no retries."""
    seconds = budget_ms / 1000
    return {
        "socket_timeout": seconds,
        "socket_connect_timeout": seconds,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": HEALTH_CHECK_INTERVAL,
    }


def open_redis(settings: Settings) -> Redis:
    """A client for the current Redis primary. Nothing connects until the first command.

    With sentinels, every new connection first asks them which node is the primary, so
    after a failover (the sentinels promoted the replica) the client follows: commands
    fail while the old primary is unreachable, then go to the promoted one. A node that
    was demoted and answers READONLY makes the client drop the connection and ask again.
    """
    options = client_options(settings.redis_budget_ms)
    if not settings.redis_sentinels:
        if settings.redis_url is None:
            raise ValueError("a Redis URL or sentinels are required")  # Settings ensures one
        return Redis.from_url(settings.redis_url, **options)
    from redis.sentinel import Sentinel

    # The sentinels are asked one after the other: together they get one budget.
    share = max(1, settings.redis_budget_ms // len(settings.redis_sentinels))
    sentinel = Sentinel(
        list(settings.redis_sentinels),
        sentinel_kwargs={"password": settings.redis_password, **client_options(share)},
        password=settings.redis_password,
        **options,
    )
    client: Redis = sentinel.master_for(settings.redis_master)
    return client


class CircuitBreaker:
    """closed (call Redis) -> open after a failure (skip it) -> half-open after
    `retry_after_seconds` (one caller probes) -> closed if the probe succeeds, else open."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"

    def __init__(self, retry_after_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.retry_after_seconds = retry_after_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = self.CLOSED
        self._since = 0.0
        self.failures = 0
        """Calls that failed (connection refused, timeout, ...)."""
        self.skipped = 0
        """Calls not made because the breaker was open."""

    @property
    def state(self) -> str:
        return self._state

    def allow(self) -> bool:
        """True if the caller may call Redis now (as the probe, when the breaker is open)."""
        with self._lock:
            if self._state == self.CLOSED:
                return True
            # Open long enough, or a probe that never reported back: let one caller try.
            if self._clock() - self._since >= self.retry_after_seconds:
                self._state = self.HALF_OPEN
                self._since = self._clock()
                return True
            self.skipped += 1
            return False

    def succeeded(self) -> None:
        with self._lock:
            if self._state == self.CLOSED:
                return
            self._state = self.CLOSED
        log.info("redis available again; using it")

    def failed(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            previous = self._state
            self._state = self.OPEN
            self._since = self._clock()
        if previous == self.CLOSED:
            log.warning(
                "redis unavailable; skipping it",
                extra={"error": str(error), "retry_after_seconds": self.retry_after_seconds},
            )
        elif previous == self.HALF_OPEN:
            log.info("redis still unavailable", extra={"error": str(error)})


class GuardedRedis:
    """A Redis client whose calls go through a CircuitBreaker.

    Failures raise RedisError (RedisUnavailable when the call was skipped), so callers
    handle one exception type whether Redis refused, timed out or was skipped.
    """

    def __init__(self, client: Redis, breaker: CircuitBreaker):
        self.client = client
        self.breaker = breaker

    def call(self, operation: Callable[[Redis], T]) -> T:
        if not self.breaker.allow():
            raise RedisUnavailable(
                f"redis skipped for up to {self.breaker.retry_after_seconds:g} s after a failure"
            )
        try:
            result = operation(self.client)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.breaker.failed(exc)
            raise
        except OSError as exc:  # a socket error the client did not wrap
            self.breaker.failed(exc)
            raise RedisConnectionError(str(exc)) from exc
        except BaseException:
            self.breaker.succeeded()  # Redis answered (with an error reply) or the caller failed
            raise
        self.breaker.succeeded()
        return result

    def get(self, name: str) -> Any:
        return self.call(lambda client: client.get(name))

    def set(self, name: str, value: bytes | str, ex: int | None = None) -> Any:
        return self.call(lambda client: client.set(name, value, ex=ex))

    def ping(self) -> Any:
        return self.call(lambda client: client.ping())

    def close(self) -> None:
        self.client.close()


def open_guarded(settings: Settings) -> GuardedRedis:
    """open_redis behind a breaker configured from the settings."""
    return GuardedRedis(open_redis(settings), CircuitBreaker(settings.redis_retry_after_seconds))
