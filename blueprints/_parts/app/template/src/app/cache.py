"""Read-through cache of GET responses in Redis, with a TTL and per-entity versions.

Every write to an entity gives it a new random version; keys embed the version,
so a write makes all of that entity's cached pages and items unreachable at once
(they then expire on their own TTL). Random rather than counted versions: a
version key lost to eviction can never bring back entries cached under it.
"""

import logging
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class KeyValue(Protocol):
    """The part of redis.Redis the cache uses (values come back as bytes)."""

    def get(self, name: str) -> Any: ...

    def set(self, name: str, value: bytes | str, ex: int | None = None) -> Any: ...


class ResponseCache:
    def __init__(self, client: KeyValue, ttl_seconds: int, prefix: str):
        self._client = client
        self.ttl_seconds = ttl_seconds
        self._prefix = prefix

    def _version_key(self, entity: str) -> str:
        return f"{self._prefix}:cache-version:{entity}"

    def key(self, entity: str, version: str, variant: str) -> str:
        return f"{self._prefix}:cache:{entity}:v{version}:{variant}"

    def fetch(self, entity: str, variant: str, compute: Callable[[], bytes]) -> tuple[bytes, bool]:
        """Return (body, hit). When Redis fails, compute and answer uncached."""
        try:
            version = self._client.get(self._version_key(entity))
            key = self.key(entity, version.decode() if version else "0", variant)
            cached = self._client.get(key)
        except RedisError as exc:
            log.warning("cache unavailable, answering uncached", extra={"error": str(exc)})
            return compute(), False
        if cached is not None:
            return cached, True
        body = compute()
        try:
            self._client.set(key, body, ex=self.ttl_seconds)
        except RedisError as exc:
            log.warning("cache write failed", extra={"error": str(exc)})
        return body, False

    def invalidate(self, entity: str) -> None:
        try:
            self._client.set(self._version_key(entity), uuid.uuid4().hex)
        except RedisError as exc:
            log.error(
                "cache invalidation failed; entries may be stale until their TTL",
                extra={"entity": entity, "error": str(exc), "ttl_seconds": self.ttl_seconds},
            )
