import ipaddress
import socket
from pathlib import Path

import pytest

from app import blueprint
from app.settings import Settings, SettingsError

URLS = {
    "postgres": "postgresql://app:secret@db:5432/app",
    "mysql": "mysql://app:secret@db:3306/app",
    "mongodb": "mongodb://root:secret@db:27017/app?authSource=admin",
}


def minimal(**extra: str) -> dict[str, str]:
    env = {
        "APP_DATABASE_URL": URLS[blueprint.DB_ENGINE],
        "APP_REDIS_URL": "redis://:secret@redis:6379/0",
    }
    env.update(extra)
    return env


def test_defaults_come_from_the_blueprint() -> None:
    settings = Settings.from_env(minimal())
    assert settings.name == blueprint.NAME
    assert settings.db_engine == blueprint.DB_ENGINE
    assert settings.rate_limit_requests == blueprint.RATE_LIMIT_REQUESTS
    assert settings.rate_limit_window_seconds == blueprint.RATE_LIMIT_WINDOW_SECONDS
    assert settings.cache_ttl_seconds == blueprint.CACHE_TTL_SECONDS
    assert settings.log_level == "info"
    assert settings.instance_id == socket.gethostname()
    assert settings.trusted_proxies == ()
    assert settings.trusted_proxy_hosts == ()
    assert settings.redis_budget_ms == 100
    assert settings.redis_retry_after_seconds == 5
    assert settings.rate_limit_on_unavailable == "allow"
    assert settings.body_limit_bytes == 10 * 1024 * 1024


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            "APP_NAME": "other",
            "APP_DB_ENGINE": "mysql",
            "APP_DATABASE_URL": URLS["mysql"],
            "APP_REDIS_URL": "redis://redis:6379/1",
            "APP_RATE_LIMIT_REQUESTS": "7",
            "APP_RATE_LIMIT_WINDOW_SECONDS": " 30 ",
            "APP_CACHE_TTL_SECONDS": "5",
            "APP_LOG_LEVEL": "DEBUG",
            "APP_INSTANCE_ID": "app-2",
            "APP_TRUSTED_PROXIES": "172.18.0.0/16, 10.0.0.5,Proxy,fd00::/8,edge.internal",
            "APP_REDIS_BUDGET_MS": "250",
            "APP_REDIS_RETRY_AFTER_SECONDS": "9",
            "APP_RATE_LIMIT_ON_UNAVAILABLE": "Deny",
            "APP_BODY_LIMIT_BYTES": "2048",
        }
    )
    assert settings == Settings(
        name="other",
        db_engine="mysql",
        database_url=URLS["mysql"],
        redis_url="redis://redis:6379/1",
        rate_limit_requests=7,
        rate_limit_window_seconds=30,
        cache_ttl_seconds=5,
        log_level="debug",
        instance_id="app-2",
        trusted_proxies=(
            ipaddress.ip_network("172.18.0.0/16"),
            ipaddress.ip_network("10.0.0.5/32"),
            ipaddress.ip_network("fd00::/8"),
        ),
        trusted_proxy_hosts=("proxy", "edge.internal"),
        redis_budget_ms=250,
        redis_retry_after_seconds=9,
        rate_limit_on_unavailable="deny",
        body_limit_bytes=2048,
    )


@pytest.mark.parametrize("engine", sorted(URLS))
def test_each_engine_takes_its_url_scheme(engine: str) -> None:
    settings = Settings.from_env(minimal(APP_DB_ENGINE=engine, APP_DATABASE_URL=URLS[engine]))
    assert settings.db_engine == engine


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"APP_DATABASE_URL": ""}, "APP_DATABASE_URL is required"),
        ({"APP_REDIS_URL": ""}, "APP_REDIS_URL is required"),
        ({"APP_REDIS_URL": "http://redis"}, "APP_REDIS_URL must start with"),
        ({"APP_DB_ENGINE": "sqlite"}, "APP_DB_ENGINE must be one of"),
        ({"APP_RATE_LIMIT_REQUESTS": "many"}, "APP_RATE_LIMIT_REQUESTS must be a whole number"),
        ({"APP_RATE_LIMIT_WINDOW_SECONDS": "0"}, "APP_RATE_LIMIT_WINDOW_SECONDS must be at least 1"),
        ({"APP_CACHE_TTL_SECONDS": "-5"}, "APP_CACHE_TTL_SECONDS must be at least 1"),
        ({"APP_LOG_LEVEL": "loud"}, "APP_LOG_LEVEL must be one of"),
        ({"APP_TRUSTED_PROXIES": "10.0.0.0/8,prox y"}, "APP_TRUSTED_PROXIES must be IP addresses"),
        ({"APP_TRUSTED_PROXIES": "10.0.0.300"}, "APP_TRUSTED_PROXIES must be IP addresses"),
        ({"APP_TRUSTED_PROXIES": "-proxy"}, "APP_TRUSTED_PROXIES must be IP addresses"),
        ({"APP_TRUSTED_PROXIES": "10.0.0.0/33"}, "APP_TRUSTED_PROXIES must be IP addresses"),
        ({"APP_REDIS_BUDGET_MS": "0"}, "APP_REDIS_BUDGET_MS must be at least 1"),
        ({"APP_REDIS_RETRY_AFTER_SECONDS": "soon"}, "APP_REDIS_RETRY_AFTER_SECONDS must be a whole"),
        ({"APP_RATE_LIMIT_ON_UNAVAILABLE": "ignore"}, "APP_RATE_LIMIT_ON_UNAVAILABLE must be one of"),
        ({"APP_BODY_LIMIT_BYTES": "10M"}, "APP_BODY_LIMIT_BYTES must be a whole number"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(minimal(**env))


def test_url_must_match_the_engine() -> None:
    other = "mysql" if blueprint.DB_ENGINE != "mysql" else "postgres"
    with pytest.raises(SettingsError, match="APP_DATABASE_URL must start with"):
        Settings.from_env(minimal(APP_DATABASE_URL=URLS[other]))


def test_sentinels_replace_the_redis_url() -> None:
    env = minimal(
        APP_REDIS_SENTINELS="sentinel-1:26379, sentinel-2:26379,sentinel-3:26380",
        APP_REDIS_MASTER="primary",
        APP_REDIS_PASSWORD="secret",
    )
    del env["APP_REDIS_URL"]
    settings = Settings.from_env(env)
    assert settings.redis_url is None
    assert settings.redis_sentinels == (
        ("sentinel-1", 26379),
        ("sentinel-2", 26379),
        ("sentinel-3", 26380),
    )
    assert (settings.redis_master, settings.redis_password) == ("primary", "secret")


def test_without_sentinels_the_redis_url_is_required() -> None:
    env = minimal()
    del env["APP_REDIS_URL"]
    with pytest.raises(SettingsError, match="APP_REDIS_URL"):
        Settings.from_env(env)


@pytest.mark.parametrize("bad", ["sentinel-1", "sentinel-1:port", ":26379", "s:70000"])
def test_malformed_sentinels_are_refused(bad: str) -> None:
    with pytest.raises(SettingsError, match="APP_REDIS_SENTINELS"):
        Settings.from_env(minimal(APP_REDIS_SENTINELS=bad))


def test_a_read_url_is_for_postgres_only() -> None:
    read = "postgresql://app:secret@db-2:5432,db-1:5432/app?target_session_attrs=prefer-standby"
    settings = Settings.from_env(
        minimal(APP_DB_ENGINE="postgres", APP_DATABASE_URL=URLS["postgres"],
                APP_DATABASE_READ_URL=read)
    )
    assert settings.database_read_url == read
    assert Settings.from_env(minimal()).database_read_url is None
    with pytest.raises(SettingsError, match="APP_DATABASE_READ_URL"):
        Settings.from_env(
            minimal(APP_DB_ENGINE="mysql", APP_DATABASE_URL=URLS["mysql"],
                    APP_DATABASE_READ_URL="mysql://app:secret@db-2:3306/app")
        )


def test_passwords_come_from_secret_files(tmp_path: Path) -> None:
    db_secret, redis_secret = tmp_path / "db", tmp_path / "redis"
    db_secret.write_text("p@ss/word\n")
    redis_secret.write_text("r3dis")
    env = minimal(
        APP_DATABASE_URL=URLS[blueprint.DB_ENGINE].replace(":secret@", "@"),
        APP_DATABASE_PASSWORD_FILE=str(db_secret),
        APP_REDIS_URL="redis://redis:6379/0",
        APP_REDIS_PASSWORD_FILE=str(redis_secret),
    )
    settings = Settings.from_env(env)
    assert ":p%40ss%2Fword@" in settings.database_url
    assert settings.redis_url == "redis://:r3dis@redis:6379/0"
    assert settings.redis_password == "r3dis"


def test_an_unreadable_secret_file_names_its_variable(tmp_path: Path) -> None:
    env = minimal(APP_DATABASE_PASSWORD_FILE=str(tmp_path / "missing"))
    with pytest.raises(SettingsError, match="APP_DATABASE_PASSWORD_FILE"):
        Settings.from_env(env)
