"""The Redis client: a URL, or the primary the sentinels name. Nothing connects here."""

from redis.sentinel import SentinelConnectionPool

from app.redis_client import open_redis
from app.settings import Settings


def settings(**changes: object) -> Settings:
    base = {
        "name": "shop",
        "db_engine": "postgres",
        "database_url": "postgresql://app:secret@db:5432/app",
        "redis_url": "redis://:secret@redis:6379/0",
        "rate_limit_requests": 10,
        "rate_limit_window_seconds": 60,
        "cache_ttl_seconds": 60,
        "log_level": "info",
        "instance_id": "app-1",
    }
    base.update(changes)
    return Settings(**base)  # type: ignore[arg-type]


def test_a_url_names_one_server() -> None:
    client = open_redis(settings())
    kwargs = client.connection_pool.connection_kwargs
    assert (kwargs["host"], kwargs["port"], kwargs["password"]) == ("redis", 6379, "secret")
    # The time budget (APP_REDIS_BUDGET_MS, 100 ms by default), and no retries.
    assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == 0.1
    assert kwargs["retry"].get_retries() == 0


def test_sentinels_name_the_primary() -> None:
    client = open_redis(
        settings(
            redis_url=None,
            redis_sentinels=(("sentinel-1", 26379), ("sentinel-2", 26379)),
            redis_master="mymaster",
            redis_password="secret",
        )
    )
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "mymaster" and pool.is_master
    assert pool.connection_kwargs["password"] == "secret"
    sentinels = pool.sentinel_manager.sentinels
    assert [s.connection_pool.connection_kwargs["host"] for s in sentinels] == [
        "sentinel-1",
        "sentinel-2",
    ]
    assert all(s.connection_pool.connection_kwargs["password"] == "secret" for s in sentinels)
    # Asked one after the other, the sentinels share one budget; so does the primary.
    assert all(s.connection_pool.connection_kwargs["socket_timeout"] == 0.05 for s in sentinels)
    assert pool.connection_kwargs["socket_timeout"] == 0.1
    assert pool.connection_kwargs["retry"].get_retries() == 0
