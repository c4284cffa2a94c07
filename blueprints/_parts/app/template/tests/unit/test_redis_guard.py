"""A lost Redis costs one time budget, then is skipped: the breaker, over real sockets.

FakeRedis is a real TCP server on 127.0.0.1 that either hangs (accepts connections,
never answers: a stalled or partitioned Redis), answers (+PONG / +OK / nil), or is
closed (connection refused). No Redis server is needed.
"""

import contextlib
import dataclasses
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from redis.exceptions import RedisError

from app.cache import ResponseCache
from app.main import create_app
from app.redis_client import CircuitBreaker, GuardedRedis, RedisUnavailable, client_options, open_redis
from tests.unit.test_app import offline_settings

BUDGET_MS = 100
SLACK = 0.5
"""Seconds on top of the budget for a busy test machine; far below any default timeout."""


REPLIES = {
    b"HELLO": b"%1\r\n+proto\r\n:3\r\n",  # RESP3, as redis-py asks for
    b"PING": b"+PONG\r\n",
    b"GET": b"_\r\n",  # nil
}


class FakeRedis:
    """A TCP server speaking just enough RESP; `mode` is "hang" or "answer"."""

    def __init__(self, mode: str = "hang"):
        self.mode = mode
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port: int = self._server.getsockname()[1]
        self._connections: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            self._connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.mode == "hang":
                continue
            buffer += data
            while (command := _command(buffer)) is not None:
                name, buffer = command
                reply = REPLIES.get(name.upper(), b"+OK\r\n")
                try:
                    conn.sendall(reply)
                except OSError:
                    return

    def close(self) -> None:
        self._closed = True
        self._server.close()
        for conn in self._connections:
            conn.close()


def _command(buffer: bytes) -> tuple[bytes, bytes] | None:
    """The first complete RESP command in `buffer`: (its name, the rest), or None."""
    if not buffer.startswith(b"*") or b"\r\n" not in buffer:
        return None
    header, _, rest = buffer.partition(b"\r\n")
    args = []
    for _ in range(int(header[1:])):
        length_line, sep, rest = rest.partition(b"\r\n")
        if not sep or len(rest) < int(length_line[1:]) + 2:
            return None
        size = int(length_line[1:])
        args.append(rest[:size])
        rest = rest[size + 2:]
    return args[0], rest


@pytest.fixture
def hanging() -> Iterator[FakeRedis]:
    server = FakeRedis("hang")
    yield server
    server.close()


@pytest.fixture
def answering() -> Iterator[FakeRedis]:
    server = FakeRedis("answer")
    yield server
    server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def guarded(url: str, retry_after: float = 60) -> GuardedRedis:
    return GuardedRedis(Redis.from_url(url, **client_options(BUDGET_MS)), CircuitBreaker(retry_after))


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    with contextlib.suppress(RedisError):
        call()
    return time.perf_counter() - started


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_on_failure_and_probes_once_after_the_pause() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5, clock=clock)
    assert breaker.allow() and breaker.state == "closed"
    breaker.failed(ConnectionError("refused"))
    assert breaker.state == "open"
    assert not breaker.allow()
    clock.now += 4.9
    assert not breaker.allow()
    assert breaker.skipped == 2
    clock.now += 0.1
    assert breaker.allow(), "one probe after the pause"
    assert breaker.state == "half-open"
    assert not breaker.allow(), "only one probe at a time"
    breaker.failed(ConnectionError("still refused"))
    assert breaker.state == "open" and breaker.failures == 2
    clock.now += 5
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == "closed"
    assert breaker.allow() and breaker.allow()


def test_a_probe_that_never_reports_back_does_not_keep_the_breaker_open() -> None:
    clock = Clock()
    breaker = CircuitBreaker(5, clock=clock)
    breaker.failed(ConnectionError("refused"))
    clock.now += 5
    assert breaker.allow()
    clock.now += 5
    assert breaker.allow(), "a new probe once the previous one is overdue"


def test_a_hanging_redis_costs_one_budget_then_is_skipped(hanging: FakeRedis) -> None:
    redis = guarded(hanging.url)
    first = timed(lambda: redis.ping())
    assert BUDGET_MS / 1000 * 0.9 <= first < BUDGET_MS / 1000 + SLACK
    assert redis.breaker.state == "open"
    with pytest.raises(RedisUnavailable):
        redis.get("key")
    # Twenty skipped calls together take less time than two real attempts would.
    assert sum(timed(lambda: redis.get("key")) for _ in range(20)) < 2 * BUDGET_MS / 1000
    assert redis.breaker.failures == 1 and redis.breaker.skipped == 21


def test_a_refused_connection_opens_the_breaker_at_once() -> None:
    redis = guarded(f"redis://127.0.0.1:{closed_port()}/0")
    assert timed(lambda: redis.ping()) < SLACK
    assert redis.breaker.state == "open"


def test_the_breaker_closes_when_redis_answers_again(hanging: FakeRedis) -> None:
    redis = guarded(hanging.url, retry_after=0.2)
    timed(lambda: redis.ping())
    assert redis.breaker.state == "open"
    hanging.mode = "answer"
    redis.client.connection_pool.disconnect()
    time.sleep(0.25)
    assert redis.ping() is True, "the half-open probe"
    assert redis.breaker.state == "closed"
    assert redis.get("key") is None


def test_sentinel_discovery_stays_within_the_budget(hanging: FakeRedis) -> None:
    others = [FakeRedis("hang"), FakeRedis("hang")]
    try:
        settings = dataclasses.replace(
            offline_settings(),
            redis_url=None,
            redis_sentinels=tuple(("127.0.0.1", s.port) for s in (hanging, *others)),
            redis_budget_ms=BUDGET_MS,
        )
        redis = GuardedRedis(open_redis(settings), CircuitBreaker(60))
        # Three silent sentinels share the budget, instead of a timeout each.
        assert timed(lambda: redis.ping()) < BUDGET_MS / 1000 + SLACK
        assert redis.breaker.state == "open"
    finally:
        for server in others:
            server.close()


def test_the_cache_bypasses_a_hanging_redis_within_budget(hanging: FakeRedis) -> None:
    cache = ResponseCache(guarded(hanging.url), ttl_seconds=60, prefix="shop")
    started = time.perf_counter()
    answers = [cache.fetch("products", "item:1", lambda: b"{}") for _ in range(10)]
    assert answers == [(b"{}", False)] * 10
    assert time.perf_counter() - started < BUDGET_MS / 1000 + SLACK
    cache.invalidate("products")  # skipped and remembered, not raised


def test_a_failed_invalidation_is_retried_before_the_cache_is_used(answering: FakeRedis) -> None:
    redis = guarded(answering.url, retry_after=0.2)
    cache = ResponseCache(redis, ttl_seconds=60, prefix="shop")
    redis.breaker.failed(ConnectionError("lost"))
    cache.invalidate("products")
    assert redis.breaker.skipped == 1
    time.sleep(0.25)
    sets: list[str] = []
    original = redis.set

    def recording_set(name: str, value: bytes | str, ex: int | None = None) -> object:
        sets.append(name)
        return original(name, value, ex=ex)

    redis.set = recording_set  # type: ignore[method-assign]
    cache.fetch("orders", "item:1", lambda: b"{}")
    assert sets[0] == "shop:cache-version:products"


@pytest.mark.parametrize("policy", ["allow", "deny"])
def test_requests_finish_within_budget_when_redis_hangs(hanging: FakeRedis, policy: str) -> None:
    settings = dataclasses.replace(
        offline_settings(),
        redis_url=hanging.url,
        redis_budget_ms=BUDGET_MS,
        rate_limit_on_unavailable=policy,
        redis_retry_after_seconds=7,
    )
    app = create_app(settings)
    client = TestClient(app, raise_server_exceptions=False)
    durations = []
    for _ in range(10):
        started = time.perf_counter()
        response = client.get("/whoami")
        durations.append(time.perf_counter() - started)
        assert response.headers["X-RateLimit-Status"] == "unavailable"
        assert "X-RateLimit-Limit" not in response.headers
        if policy == "allow":
            assert response.status_code == 200
        else:
            assert response.status_code == 503
            assert response.json() == {"detail": "rate limiter unavailable; try again later"}
            assert response.headers["Retry-After"] == "7"
    assert durations[0] < BUDGET_MS / 1000 + SLACK, "the first request waits one budget"
    assert max(durations[1:]) < SLACK / 2, "then Redis is skipped"
    stats = app.state.rate_limit_stats
    assert stats.unavailable_total == 10
    assert stats.denied_total == (10 if policy == "deny" else 0)
    assert app.state.context.redis.breaker.failures == 1


def test_the_limiter_failure_is_logged_once_not_per_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = dataclasses.replace(offline_settings(), log_level="info", redis_retry_after_seconds=60)
    client = TestClient(create_app(settings), raise_server_exceptions=False)
    for _ in range(5):
        assert client.get("/whoami").status_code == 200
    out = capsys.readouterr().out
    assert out.count("rate limiter unavailable") == 1
    assert out.count("redis unavailable; skipping it") == 1
