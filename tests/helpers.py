"""Shared test helpers: run the CLI in-process, small spec builders."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Call archgen's real `main()` (with its error handling) and capture its output."""
    from archgen.cli import main

    capsys.readouterr()
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


def mvc_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "shop",
        "architecture": "mvc",
        "proxy": {"kind": "nginx", "http_port": 8080, "https_port": 8443},
        "database": {"engine": "postgres"},
        "app": {"entities": [
            {"name": "product", "fields": {"title": "str", "price": "float", "tags": "list[str]",
                                           "note": "str?"}},
            {"name": "customer", "fields": {"email": "str", "vip": "bool"}},
        ]},
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


def in_ci() -> bool:
    """True when running in CI, where every tool and service a test needs must be there."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> NoReturn:
    """Fail in CI (a missing tool there is a missing install step); elsewhere skip, saying why."""
    if in_ci():
        pytest.fail(f"{reason} (CI must provide it: .ci/run installs and starts what tests need)",
                    pytrace=False)
    pytest.skip(reason)
