import json
import logging
import sys

from app.logs import JsonFormatter, RepeatFilter, request_id


def make_record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord({"name": "app.access", "levelname": "INFO", "msg": message})
    record.__dict__.update(extra)
    return record


def test_one_json_object_per_line_with_request_fields() -> None:
    token = request_id.set("req-123")
    try:
        line = JsonFormatter().format(
            make_record("GET /api\nx 200", method="GET", path="/api", status=200, duration_ms=1.5)
        )
    finally:
        request_id.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "info"
    assert entry["message"] == "GET /api\nx 200"
    assert entry["request_id"] == "req-123"
    assert (entry["method"], entry["path"], entry["status"], entry["duration_ms"]) == (
        "GET",
        "/api",
        200,
        1.5,
    )
    assert entry["time"].endswith("+00:00")


def test_exceptions_are_kept_in_the_object() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.LogRecord("app", logging.ERROR, __file__, 1, "failed", None, None)
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed"
    assert "RuntimeError: boom" in entry["exception"]
    assert "request_id" not in entry


def test_a_repeated_line_passes_once_per_interval_for_its_key() -> None:
    now = [0.0]
    repeat = RepeatFilter(key=lambda text: text.split(" (after ")[0], interval_seconds=10,
                          clock=lambda: now[0])

    def passes(text: str) -> bool:
        return repeat.filter(logging.LogRecord("lib", logging.ERROR, __file__, 1, text, None, None))

    assert passes("connect failed (after 3ms)")
    assert not passes("connect failed (after 7ms)")  # the same failure, another tail
    assert passes("resolve failed (after 1ms)")  # another failure
    now[0] = 10.5
    assert passes("connect failed (after 2ms)")
