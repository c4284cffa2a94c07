"""Settings from the environment (APP_*); defaults come from the rendered blueprint."""

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from app import blueprint

ENGINES = ("mongodb", "postgres", "mysql")
URL_SCHEMES = {
    "mongodb": ("mongodb://", "mongodb+srv://"),
    "postgres": ("postgresql://", "postgres://"),
    "mysql": ("mysql://",),
}
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


class SettingsError(ValueError):
    """An APP_* variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    name: str
    db_engine: str
    database_url: str
    redis_url: str
    rate_limit_requests: int
    rate_limit_window_seconds: int
    cache_ttl_seconds: int
    log_level: str
    instance_id: str

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
        redis_url = text("APP_REDIS_URL")
        if not redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("APP_REDIS_URL must start with redis://, rediss:// or unix://")
        log_level = text("APP_LOG_LEVEL", "info").lower()
        if log_level not in LOG_LEVELS:
            raise SettingsError(f"APP_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
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
        )
