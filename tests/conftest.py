"""Test configuration: markers, the in-process CLI fixture, isolation from the user's home."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
