"""The health waiter against a scripted fake engine (no Docker)."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from archgen.runtime.engine import Engine
from archgen.runtime.health import Cancelled, Waiter, WaitFailure, probe_command, probe_delay


class FakeEngine:
    """Answers `inspect` from a script of states and `exec_probe` from a script of results."""

    def __init__(self, states: list[dict[str, Any]], probes: list[tuple[int, str]] | None = None) -> None:
        self.states = states
        self.probes = probes if probes is not None else [(1, "not yet")]
        self.probe_calls: list[list[str]] = []
        self.inspections = 0

    def inspect(self, container_id: str) -> dict[str, Any]:
        self.inspections += 1
        state = self.states[0] if len(self.states) == 1 else self.states.pop(0)
        return {
            "Config": {"Healthcheck": {"Test": ["CMD-SHELL", "check"], "Timeout": 1_000_000_000}},
            "State": state,
        }

    def exec_probe(self, container_id: str, command: list[str]) -> tuple[int, str]:
        self.probe_calls.append(command)
        return self.probes[0] if len(self.probes) == 1 else self.probes.pop(0)


def waiter(engine: FakeEngine, timeout: float | None = 5.0) -> Waiter:
    deadline = None if timeout is None else time.monotonic() + timeout
    return Waiter(cast(Engine, engine), threading.Event(), deadline, timeout)


RUNNING = {"Status": "running", "Health": {"Status": "starting", "Log": []}}


def test_probe_command() -> None:
    assert probe_command(["CMD", "pg_isready", "-U", "x"]) == ["pg_isready", "-U", "x"]
    assert probe_command(["CMD-SHELL", "curl -f localhost || exit 1"]) == [
        "/bin/sh",
        "-c",
        "curl -f localhost || exit 1",
    ]
    assert probe_command(["NONE"]) is None
    assert probe_command([]) is None


def test_probe_schedule_backs_off() -> None:
    assert probe_delay(0) == 0.05
    assert probe_delay(3) == 0.25
    assert probe_delay(10) == 0.5
    assert probe_delay(60) == 1.0


def test_our_probe_passing_counts_as_healthy_while_the_engine_still_says_starting() -> None:
    engine = FakeEngine([RUNNING], probes=[(1, "refused"), (1, "refused"), (0, "ok")])
    start = time.monotonic()
    waiter(engine).healthy("c1", "p-db-1")
    assert time.monotonic() - start < 2.0  # probes every 0.25 s, not every engine interval
    assert engine.probe_calls[0] == ["/bin/sh", "-c", "check"]
    assert len(engine.probe_calls) == 3


def test_engine_healthy_ends_the_wait() -> None:
    engine = FakeEngine([{"Status": "running", "Health": {"Status": "healthy"}}])
    waiter(engine).healthy("c1", "p-db-1")


def test_engine_unhealthy_fails_with_last_output() -> None:
    unhealthy = {
        "Status": "running",
        "Health": {"Status": "unhealthy", "Log": [{"Output": "connection refused\n"}]},
    }
    engine = FakeEngine([RUNNING, unhealthy])
    with pytest.raises(WaitFailure) as caught:
        waiter(engine).healthy("c1", "p-db-1")
    assert caught.value.reason == "is unhealthy"
    assert caught.value.health_output == "connection refused"


def test_exit_while_waiting_for_health_fails_with_exit_code() -> None:
    engine = FakeEngine([RUNNING, {"Status": "exited", "ExitCode": 3}])
    with pytest.raises(WaitFailure) as caught:
        waiter(engine).healthy("c1", "p-db-1")
    assert (caught.value.reason, caught.value.exit_code) == ("exited with code 3", 3)


def test_timeout_reports_last_probe_output() -> None:
    engine = FakeEngine([RUNNING], probes=[(1, "still booting")])
    with pytest.raises(WaitFailure) as caught:
        waiter(engine, timeout=0.6).healthy("c1", "p-db-1")
    assert caught.value.reason == "did not become healthy within 0.6 s"
    assert caught.value.health_output == "still booting"


def test_cancel_stops_the_wait() -> None:
    engine = FakeEngine([RUNNING])
    w = waiter(engine, timeout=None)
    threading.Timer(0.2, w.cancel.set).start()
    with pytest.raises(Cancelled):
        w.healthy("c1", "p-db-1")


def test_no_healthcheck() -> None:
    engine = FakeEngine([RUNNING])
    engine.inspect = lambda cid: {"Config": {"Healthcheck": {"Test": ["NONE"]}}, "State": RUNNING}  # type: ignore[method-assign]
    with pytest.raises(WaitFailure, match="has no healthcheck"):
        waiter(engine).healthy("c1", "p-db-1")


def test_completed() -> None:
    waiter(FakeEngine([RUNNING, {"Status": "exited", "ExitCode": 0}])).completed("c1", "job")
    with pytest.raises(WaitFailure, match="exited with code 2"):
        waiter(FakeEngine([{"Status": "exited", "ExitCode": 2}])).completed("c1", "job")


def test_running() -> None:
    waiter(FakeEngine([{"Status": "running"}])).running("c1", "web", job=False)
    waiter(FakeEngine([{"Status": "exited", "ExitCode": 0}])).running("c1", "job", job=True)
    with pytest.raises(WaitFailure, match="exited with code 0"):
        waiter(FakeEngine([{"Status": "exited", "ExitCode": 0}])).running("c1", "web", job=False)


def test_crash_loop_fails_fast() -> None:
    class Restarting(FakeEngine):
        def inspect(self, container_id: str) -> dict[str, Any]:
            info = super().inspect(container_id)
            info["RestartCount"] = 0 if self.inspections == 1 else 1
            return info

    engine = Restarting([RUNNING, {"Status": "running", "ExitCode": 1, "Health": {"Status": "starting"}}])
    with pytest.raises(WaitFailure) as caught:
        waiter(engine).healthy("c1", "p-db-1")
    assert caught.value.reason == "crashed and was restarted by its restart policy (restart count 1)"
    with pytest.raises(WaitFailure, match="is being restarted"):
        waiter(FakeEngine([{"Status": "restarting", "ExitCode": 2}])).running("c1", "web", job=False)
