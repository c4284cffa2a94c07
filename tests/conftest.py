"""Test configuration: markers, the in-process CLI fixture, isolation from the user's home."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import CliResult, run_cli
from tests.servers import mariadb_server, postgres_server, redis_server  # noqa: F401  (fixtures)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files from the current output instead of comparing")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--update-golden"):
        import os

        os.environ["ARCHGEN_UPDATE_GOLDEN"] = "1"


# Seconds spent per tier (setup + call + teardown), summed from the reports: with xdist
# they reach the controller, so the totals cover every worker.
_TIER_SECONDS: dict[str, float] = {}
_TIER_TESTS: dict[str, set[str]] = {}


def tier(report: pytest.TestReport) -> str:
    """unit, render or docker: the docker marker wins, then the tests/render folder."""
    if "docker" in report.keywords:
        return "docker"
    if report.nodeid.startswith("tests/render/") or "/render/" in report.nodeid:
        return "render"
    return "unit"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    name = tier(report)
    _TIER_SECONDS[name] = _TIER_SECONDS.get(name, 0.0) + report.duration
    _TIER_TESTS.setdefault(name, set()).add(report.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _TIER_SECONDS:
        return
    terminalreporter.section("time per tier (summed over tests and workers)")
    for name in ("unit", "render", "docker"):
        if name in _TIER_SECONDS:
            count = len(_TIER_TESTS[name])
            terminalreporter.write_line(f"{name:<7} {_TIER_SECONDS[name]:8.1f}s  {count} tests")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing a test does may read or write the developer's own config.
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    def invoke(*args: str | Path) -> CliResult:
        return run_cli(capsys, *(str(a) for a in args))

    return invoke
