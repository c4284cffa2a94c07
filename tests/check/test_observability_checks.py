"""`archgen check` with `observability`: every Prometheus target up, each app's traces in Jaeger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archgen.check._checks import FAILED, PASSED, derive_checks, run_check
from archgen.check._http import Answer
from archgen.model import resolve_data

SPEC = {"name": "shop", "architecture": "mvc", "observability": ["prometheus", "jaeger"],
        "ui_ports": {"prometheus": 19090, "jaeger": 26686}}


class ScriptedUIs:
    """Answers each GET with the next body scripted for its URL; `wait` only counts time."""

    def __init__(self, bodies: dict[str, list[Any]]) -> None:
        self.bodies = bodies
        self.waited = 0.0

    def request(self, method: str, url: str, body: Any = None, *, patient: bool = True) -> Answer:
        script = self.bodies[url]
        payload = script.pop(0) if len(script) > 1 else script[0]
        return Answer(method, url, 200, {}, json.dumps(payload).encode())

    def peer_certificate(self, host: str, port: int) -> bytes:
        raise AssertionError("not used by these checks")

    def wait(self, seconds: float) -> None:
        self.waited += seconds


def _targets(*healths: str) -> dict[str, Any]:
    return {"data": {"activeTargets": [
        {"labels": {"job": f"job{i}"}, "scrapeUrl": f"http://t{i}/metrics", "health": h,
         "lastError": "" if h == "up" else "connection refused"} for i, h in enumerate(healths)]}}


def _checks(tmp_path: Path) -> dict[str, Any]:
    return {c.name: c for c in derive_checks(dict(resolve_data(SPEC).context), tmp_path)}


def test_the_observability_checks_come_last_on_the_ui_ports(tmp_path: Path) -> None:
    names = [c.name for c in derive_checks(dict(resolve_data(SPEC).context), tmp_path)]
    assert names[-2:] == ["every Prometheus target up", "traces of app in Jaeger"]
    plain = {"name": "shop", "architecture": "mvc"}
    assert not any("Prometheus" in c.name for c in derive_checks(
        dict(resolve_data(plain).context), tmp_path))


def test_targets_that_come_up_within_the_wait_pass(tmp_path: Path) -> None:
    client = ScriptedUIs({"http://127.0.0.1:19090/api/v1/targets": [
        {"data": {"activeTargets": []}}, _targets("up", "unknown"), _targets("up", "up")]})
    result = run_check(_checks(tmp_path)["every Prometheus target up"], client)
    assert result.status == PASSED, result.message
    assert result.message == "2 targets up (job0, job1)"
    assert client.waited == 6


def test_a_target_still_down_fails_naming_it_and_its_error(tmp_path: Path) -> None:
    client = ScriptedUIs({"http://127.0.0.1:19090/api/v1/targets": [_targets("up", "down")]})
    result = run_check(_checks(tmp_path)["every Prometheus target up"], client)
    assert result.status == FAILED
    assert "job1 http://t1/metrics: down (connection refused)" in result.message
    assert client.waited >= 60


def test_jaeger_must_know_every_traced_service(tmp_path: Path) -> None:
    url = "http://127.0.0.1:26686/api/services"
    check = _checks(tmp_path)["traces of app in Jaeger"]
    passed = run_check(check, ScriptedUIs({url: [{"data": []}, {"data": ["app", "jaeger"]}]}))
    assert passed.status == PASSED, passed.message
    failed = run_check(check, ScriptedUIs({url: [{"data": ["jaeger"]}]}))
    assert failed.status == FAILED
    assert "no trace of app in Jaeger" in failed.message and "it knows: jaeger" in failed.message
