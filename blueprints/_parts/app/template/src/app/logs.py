"""Structured logs: one JSON object per line on stdout, tagged with the request id."""

import json
import logging
import sys
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The current request's X-Request-ID (copied into worker threads by Starlette)."""

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged
# (except uvicorn's `color_message`, the same message with terminal colour codes).
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            entry["request_id"] = current
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _JsonHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler this module installed, so reconfiguring replaces only it."""


def configure_logging(level: str) -> None:
    """Send every logger (uvicorn's too) through one JSON handler on stdout."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _JsonHandler)]:
        root.removeHandler(handler)
    handler = _JsonHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # Requests are logged by RequestContextMiddleware, with status and duration.
    logging.getLogger("uvicorn.access").disabled = True


class ThrottledLog:
    """Logs an event at most once per `interval_seconds`; each line counts the events
    since the previous line (`events`), so a failure repeated per request is one line."""

    def __init__(
        self,
        logger: logging.Logger,
        level: int,
        interval_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._logger = logger
        self._level = level
        self._interval = interval_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._events = 0
        self._last: float | None = None

    def __call__(self, message: str, **extra: Any) -> bool:
        """Count one event; log it (and return True) unless a line was logged recently."""
        with self._lock:
            self._events += 1
            now = self._clock()
            if self._last is not None and now - self._last < self._interval:
                return False
            events, self._events, self._last = self._events, 0, now
        self._logger.log(self._level, message, extra={**extra, "events": events})
        return True


class RepeatFilter(logging.Filter):
    """Lets a line through at most once per `interval_seconds` for each `key(text)`: for a
    library that logs the same failure many times a second (the key drops what varies)."""

    def __init__(
        self,
        key: Callable[[str], str] = lambda text: text,
        interval_seconds: float = 10,
        clock: Callable[[], float] = time.monotonic,
    ):
        super().__init__()
        self._key = key
        self._interval = interval_seconds
        self._clock = clock
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key, now = self._key(record.getMessage()), self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            return False
        if len(self._last) >= 256:  # bounded: keys are texts a library made up
            self._last.clear()
        self._last[key] = now
        return True
