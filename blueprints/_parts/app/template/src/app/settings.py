"""Settings from the environment (APP_*); defaults come from the rendered blueprint."""

import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from app import blueprint

ENGINES = ("mongodb", "postgres", "mysql")
URL_SCHEMES = {
    "mongodb": ("mongodb://", "mongodb+srv://"),
    "postgres": ("postgresql://", "postgres://"),
    "mysql": ("mysql://",),
}
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
ON_UNAVAILABLE = ("allow", "deny")
BODY_LIMIT_BYTES = 10 * 1024 * 1024
"""Default request-body limit (10 MiB), the same as the edge proxy's default."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"{_LABEL}(\.{_LABEL})*")


class SettingsError(ValueError):
    """An APP_* variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    name: str
    db_engine: str
    database_url: str
    redis_url: str | None
    """None when Redis is found through sentinels (redis_sentinels)."""
    rate_limit_requests: int
    rate_limit_window_seconds: int
    cache_ttl_seconds: int
    log_level: str
    instance_id: str
    database_read_url: str | None = None
    """Where lists are read (PostgreSQL standbys); None: everything from database_url."""
    redis_sentinels: tuple[tuple[str, int], ...] = ()
    """Sentinels to ask for the current Redis primary; empty: redis_url names the server."""
    redis_master: str = "mymaster"
    redis_password: str | None = None
    trusted_proxies: tuple[Network, ...] = ()
    """Peers whose X-Forwarded-For is believed (the edge proxy); empty: none, use the peer."""
    trusted_proxy_hosts: tuple[str, ...] = ()
    """Host names of trusted proxies (compose service names), resolved while running."""
    redis_budget_ms: int = 100
    """Time budget of one Redis call (connect, and each read): socket and connect timeouts."""
    redis_retry_after_seconds: int = 5
    """After a Redis failure, skip Redis this long before one request probes it again."""
    rate_limit_on_unavailable: str = "allow"
    """Without Redis: `allow` requests unlimited, or `deny` them (503)."""
    body_limit_bytes: int = BODY_LIMIT_BYTES
    """Largest request body accepted (413 beyond)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ

        def text(variable: str, default: str | None = None) -> str:
            value = env.get(variable, "").strip() or default
            if value is None:
                raise SettingsError(f"{variable} is required but not set")
            return value

        def positive(variable: str, default: int) -> int:
            raw = env.get(variable, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise SettingsError(f"{variable} must be a whole number, got {raw!r}") from None
            if value < 1:
                raise SettingsError(f"{variable} must be at least 1, got {value}")
            return value

        engine = text("APP_DB_ENGINE", blueprint.DB_ENGINE).lower()
        if engine not in ENGINES:
            raise SettingsError(f"APP_DB_ENGINE must be one of {', '.join(ENGINES)}, got {engine!r}")
        database_url = text("APP_DATABASE_URL")
        if not database_url.startswith(URL_SCHEMES[engine]):
            raise SettingsError(
                f"APP_DATABASE_URL must start with {' or '.join(URL_SCHEMES[engine])}"
                f" for APP_DB_ENGINE={engine}"
            )
        # The URLs carry no password: it comes from a secret file (or a variable), and is
        # put into them here, so it never sits in the container's environment.
        database_password = _secret(env, "APP_DATABASE_PASSWORD")
        database_url = with_password(database_url, database_password)
        read_url = with_password(env.get("APP_DATABASE_READ_URL", "").strip(), database_password) or None
        if read_url is not None:
            if engine != "postgres":
                raise SettingsError("APP_DATABASE_READ_URL is only supported for APP_DB_ENGINE=postgres")
            if not read_url.startswith(URL_SCHEMES[engine]):
                raise SettingsError(
                    f"APP_DATABASE_READ_URL must start with {' or '.join(URL_SCHEMES[engine])}"
                )
        sentinels = _sentinels(env.get("APP_REDIS_SENTINELS", ""))
        redis_password = _secret(env, "APP_REDIS_PASSWORD")
        redis_url: str | None = None
        if not sentinels:
            redis_url = text("APP_REDIS_URL")
            if not redis_url.startswith(("redis://", "rediss://", "unix://")):
                raise SettingsError("APP_REDIS_URL must start with redis://, rediss:// or unix://")
            redis_url = with_password(redis_url, redis_password)
        log_level = text("APP_LOG_LEVEL", "info").lower()
        if log_level not in LOG_LEVELS:
            raise SettingsError(f"APP_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
        on_unavailable = text("APP_RATE_LIMIT_ON_UNAVAILABLE", "allow").lower()
        if on_unavailable not in ON_UNAVAILABLE:
            raise SettingsError(
                f"APP_RATE_LIMIT_ON_UNAVAILABLE must be one of {', '.join(ON_UNAVAILABLE)},"
                f" got {on_unavailable!r}"
            )
        trusted = _trusted(env.get("APP_TRUSTED_PROXIES", ""))
        return cls(
            name=text("APP_NAME", blueprint.NAME),
            db_engine=engine,
            database_url=database_url,
            redis_url=redis_url,
            rate_limit_requests=positive("APP_RATE_LIMIT_REQUESTS", blueprint.RATE_LIMIT_REQUESTS),
            rate_limit_window_seconds=positive(
                "APP_RATE_LIMIT_WINDOW_SECONDS", blueprint.RATE_LIMIT_WINDOW_SECONDS
            ),
            cache_ttl_seconds=positive("APP_CACHE_TTL_SECONDS", blueprint.CACHE_TTL_SECONDS),
            log_level=log_level,
            instance_id=text("APP_INSTANCE_ID", socket.gethostname()),
            database_read_url=read_url,
            redis_sentinels=sentinels,
            redis_master=text("APP_REDIS_MASTER", "mymaster"),
            redis_password=redis_password,
            trusted_proxies=trusted[0],
            trusted_proxy_hosts=trusted[1],
            redis_budget_ms=positive("APP_REDIS_BUDGET_MS", 100),
            redis_retry_after_seconds=positive("APP_REDIS_RETRY_AFTER_SECONDS", 5),
            rate_limit_on_unavailable=on_unavailable,
            body_limit_bytes=positive("APP_BODY_LIMIT_BYTES", BODY_LIMIT_BYTES),
        )


def _secret(env: Mapping[str, str], variable: str) -> str | None:
    """`variable`'s value, or the content of the file `<variable>_FILE` names (a mounted secret)."""
    value = env.get(variable, "").strip()
    path = env.get(f"{variable}_FILE", "").strip()
    if value and path:
        raise SettingsError(f"set {variable} or {variable}_FILE, not both")
    if not path:
        return value or None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError as error:
        raise SettingsError(f"{variable}_FILE: cannot read {path}: {error.strerror}") from None


def with_password(url: str, password: str | None) -> str:
    """`url` with `password` after its user name (`scheme://user:password@host…`).

    A URL that already holds a password, or has no host part (unix://), is left as it is.
    """
    scheme, sep, rest = url.partition("://")
    if not password or not sep or scheme == "unix":
        return url
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    user, at, hosts = authority.rpartition("@")
    if at and ":" in user:
        return url
    return f"{scheme}://{user}:{quote(password, safe='')}@{hosts}{tail}"


def _sentinels(raw: str) -> tuple[tuple[str, int], ...]:
    """`host:port,host:port` (APP_REDIS_SENTINELS) as (host, port) pairs; "" gives none."""
    found = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        host, sep, port = item.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(
                f"APP_REDIS_SENTINELS must be host:port pairs separated by commas, got {item!r}"
            )
        found.append((host, int(port)))
    return tuple(found)


def _trusted(raw: str) -> tuple[tuple[Network, ...], tuple[str, ...]]:
    """`proxy,10.0.0.2,172.18.0.0/16` (APP_TRUSTED_PROXIES) as (networks, host names)."""
    networks: list[Network] = []
    hosts: list[str] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            if not _HOSTNAME.fullmatch(item) or item.replace(".", "").isdigit():
                raise SettingsError(
                    "APP_TRUSTED_PROXIES must be IP addresses, networks (CIDR) or host names"
                    f" separated by commas, got {item!r}"
                ) from None
            hosts.append(item.lower())
    return tuple(networks), tuple(hosts)
