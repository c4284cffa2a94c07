"""The generated app against a real Redis found through a real Sentinel, and that Redis
stalling: requests stay within the Redis time budget, the breaker opens, then closes.

Redis and Sentinel come from Debian's redis-server package (`redis-server --sentinel`),
started on 127.0.0.1 for this module. The stall is SIGSTOP on the primary: it still
accepts connections (the kernel does) but never answers, the worst case for a client.
The app runs in a subprocess from the rendered tree, as test_mvc_app.py runs its suite.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import mvc_spec
from tests.servers import HOST, _binary, _start, _stop, _workdir

pytestmark = pytest.mark.servers

BUDGET_MS = 100


@dataclass(frozen=True)
class Redis:
    pid: int
    port: int
    sentinel_port: int
    password: str


def _answers(port: int, password: str, command: str = "PING", expect: bytes = b"+PONG") -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(f"AUTH {password}\r\n{command}\r\n".encode())
            reply = b""
            while expect not in reply and len(reply) < 4096:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                reply += chunk
            return expect in reply
    except OSError:
        return False


@pytest.fixture(scope="module")
def redis_with_sentinel() -> Iterator[Redis]:
    binary = _binary("redis-server", "redis-server")
    password = secrets.token_hex(16)
    workdir = _workdir("redis-sentinel")
    try:
        primary, port = _start(
            "redis-server",
            lambda port: [binary, "--port", str(port), "--bind", HOST, "--requirepass", password,
                          "--dir", str(workdir), "--save", "", "--appendonly", "no"],
            lambda port: _answers(port, password),
            workdir / "redis.log",
        )
        try:
            def sentinel_command(sentinel_port: int) -> list[str]:
                config = workdir / f"sentinel-{sentinel_port}.conf"
                config.write_text(
                    f"port {sentinel_port}\nbind {HOST}\ndir {workdir}\nrequirepass {password}\n"
                    f"sentinel monitor mymaster {HOST} {port} 1\n"
                    f"sentinel auth-pass mymaster {password}\n"
                )
                return [binary, str(config), "--sentinel"]

            sentinel, sentinel_port = _start(
                "redis-server --sentinel",
                sentinel_command,
                lambda p: _answers(p, password, "SENTINEL GET-MASTER-ADDR-BY-NAME mymaster",
                                   str(port).encode()),
                workdir / "sentinel.log",
            )
            try:
                yield Redis(primary.pid, port, sentinel_port, password)
            finally:
                _stop(sentinel)
        finally:
            _stop(primary)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


PROBE = r"""
import json, os, signal, sys, time
from fastapi.testclient import TestClient
from app.main import create_app

app = create_app()
client = TestClient(app, raise_server_exceptions=False)
pid = int(os.environ["PRIMARY_PID"])


def timed(path):
    started = time.perf_counter()
    response = client.get(path)
    return {
        "seconds": time.perf_counter() - started,
        "status": response.status_code,
        "limit": response.headers.get("x-ratelimit-limit"),
        "state": response.headers.get("x-ratelimit-status"),
        "body": response.json(),
    }


result = {"healthy": [timed("/whoami") for _ in range(3)], "ready": timed("/readyz")}
os.kill(pid, signal.SIGSTOP)
try:
    result["stalled"] = [timed("/whoami") for _ in range(10)]
    result["breaker"] = app.state.context.redis.breaker.state
finally:
    os.kill(pid, signal.SIGCONT)
time.sleep(1.2)  # APP_REDIS_RETRY_AFTER_SECONDS=1: the next call is the probe
result["recovered"] = [timed("/whoami") for _ in range(2)]
result["closed"] = app.state.context.redis.breaker.state
result["stats"] = vars(app.state.rate_limit_stats)
print(json.dumps(result))
"""


def test_a_stalled_primary_costs_one_budget_then_the_app_recovers(
    redis_with_sentinel: Redis, tmp_path: Path
) -> None:
    from archgen.render import render_project

    render_project(mvc_spec(), tmp_path / "shop")
    redis = redis_with_sentinel
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "PYTEST_"))}
    environ.update(
        PYTHONPATH="src",
        PYTHONDONTWRITEBYTECODE="1",
        PRIMARY_PID=str(redis.pid),
        APP_DB_ENGINE="postgres",
        APP_DATABASE_URL="postgresql://app:x@127.0.0.1:1/app",  # not used by these paths
        APP_REDIS_SENTINELS=f"{HOST}:{redis.sentinel_port}",
        APP_REDIS_MASTER="mymaster",
        APP_REDIS_PASSWORD=redis.password,
        APP_REDIS_BUDGET_MS=str(BUDGET_MS),
        APP_REDIS_RETRY_AFTER_SECONDS="1",
        APP_RATE_LIMIT_REQUESTS="1000",
        APP_LOG_LEVEL="warning",
    )
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path / "shop" / "app", env=environ,
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])

    # Through the sentinel to the primary: counted, within the budget.
    assert [r["limit"] for r in result["healthy"]] == ["1000"] * 3, result["healthy"]
    assert result["ready"]["body"]["checks"]["redis"] == "ok"

    stalled = result["stalled"]
    assert all(r["status"] == 200 and r["state"] == "unavailable" for r in stalled), stalled
    assert stalled[0]["seconds"] < BUDGET_MS / 1000 + 0.5, "the first request waits one budget"
    assert max(r["seconds"] for r in stalled[1:]) < 0.25, "then Redis is skipped"
    assert result["breaker"] == "open"

    assert [r["limit"] for r in result["recovered"]] == ["1000"] * 2, result["recovered"]
    assert result["closed"] == "closed"
    assert result["stats"]["unavailable_total"] == len(stalled)
