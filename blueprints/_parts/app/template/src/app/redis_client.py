"""The Redis client: one server named by a URL, or the primary that Redis Sentinel names."""

from redis import Redis

from app.settings import Settings

# Short timeouts: a rate-limit check or a cache lookup must not hold a request for long
# when Redis is unreachable (both answer without Redis, see ratelimit.py and cache.py).
_OPTIONS = {"socket_timeout": 2, "socket_connect_timeout": 2, "health_check_interval": 30}


def open_redis(settings: Settings) -> Redis:
    """A client for the current Redis primary. Nothing connects until the first command.

    With sentinels, every new connection first asks them which node is the primary, so
    after a failover (the sentinels promoted the replica) the client follows: commands
    fail while the old primary is unreachable, then go to the promoted one. A node that
    was demoted and answers READONLY makes the client drop the connection and ask again.
    """
    if not settings.redis_sentinels:
        assert settings.redis_url is not None  # Settings requires one without sentinels
        return Redis.from_url(settings.redis_url, **_OPTIONS)
    from redis.sentinel import Sentinel

    sentinel = Sentinel(
        list(settings.redis_sentinels),
        sentinel_kwargs={
            "password": settings.redis_password,
            "socket_timeout": 1,
            "socket_connect_timeout": 1,
        },
        password=settings.redis_password,
        **_OPTIONS,
    )
    client: Redis = sentinel.master_for(settings.redis_master)
    return client
