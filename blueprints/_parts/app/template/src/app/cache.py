"""Read-through cache of GET responses in Redis, with a TTL and per-entity versions.

Every write to an entity gives it a new random version; keys embed the version,
so a write makes all of that entity's cached pages and items unreachable at once
(they then expire on their own TTL). Random rather than counted versions: a
version key lost to eviction can never bring back entries cached under it.

Without Redis (down, slower than its budget, or skipped by the breaker: see
redis_client.py) the cache is bypassed: answers come from the database. A write whose
invalidation failed is remembered, and retried before this process uses the cache again,
so entries cached before the outage are not served after it. Failures are logged at most
once per `log_interval_seconds`.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

from app.logs import ThrottledLog

log = logging.getLogger(__name__)


class KeyValue(Protocol):
    """The part of redis.Redis the cache uses (values come back as bytes)."""

    def get(self, name: str) -> Any: ...

    def set(self, name: str, value: bytes | str, ex: int | None = None) -> Any: ...


class ResponseCache:
    def __init__(self, client: KeyValue, ttl_seconds: int, prefix: str, log_interval_seconds: float = 5):
        self._client = client
        self.ttl_seconds = ttl_seconds
        self._prefix = prefix
        self._pending: set[str] = set()
        """Entities whose invalidation failed: to invalidate before the cache is used."""
        self._pending_lock = threading.Lock()
        self._bypassed = ThrottledLog(log, logging.WARNING, log_interval_seconds)
        self._stale = ThrottledLog(log, logging.ERROR, log_interval_seconds)

    def _version_key(self, entity: str) -> str:
        return f"{self._prefix}:cache-version:{entity}"

    def key(self, entity: str, version: str, variant: str) -> str:
        return f"{self._prefix}:cache:{entity}:v{version}:{variant}"

    def fetch(self, entity: str, variant: str, compute: Callable[[], bytes]) -> tuple[bytes, bool]:
        """Return (body, hit). When Redis fails, compute and answer uncached."""
        try:
            self._invalidate_pending()
            version = self._client.get(self._version_key(entity))
            key = self.key(entity, version.decode() if version else "0", variant)
            cached = self._client.get(key)
        except RedisError as exc:
            self._bypassed("cache unavailable, answering uncached", error=str(exc))
            return compute(), False
        if cached is not None:
            return cached, True
        body = compute()
        try:
            self._client.set(key, body, ex=self.ttl_seconds)
        except RedisError as exc:
            self._bypassed("cache write failed", error=str(exc))
        return body, False

    def invalidate(self, entity: str) -> None:
        try:
            self._client.set(self._version_key(entity), uuid.uuid4().hex)
        except RedisError as exc:
            with self._pending_lock:
                self._pending.add(entity)
            self._stale(
                "cache invalidation failed; retried before the cache is used again",
                entity=entity,
                error=str(exc),
            )

    def _invalidate_pending(self) -> None:
        """Give every entity whose invalidation failed a new version (RedisError if Redis fails)."""
        if not self._pending:
            return
        with self._pending_lock:
            pending = sorted(self._pending)
        for entity in pending:
            # Taken out first: a write failing to invalidate meanwhile puts it back.
            with self._pending_lock:
                self._pending.discard(entity)
            try:
                self._client.set(self._version_key(entity), uuid.uuid4().hex)
            except RedisError:
                with self._pending_lock:
                    self._pending.add(entity)
                raise
        log.info("pending cache invalidations done", extra={"entities": pending})
