"""The fast path for plain `status` and `up`: what it takes, what it leaves to Typer, what it skips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from archgen.cli._fast import parse

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status"], ("status", False, {}, [])),
        (["-q", "status", "-C", "d", "-p", "n", "--json"],
         ("status", True, {"project_dir": "d", "project_name": "n", "as_json": True}, [])),
        (["up", "--project-dir=d", "--project-name", "n"],
         ("up", False, {"project_dir": "d", "project_name": "n"}, [])),
        (["up", "web", "db"], ("up", False, {}, ["web", "db"])),
        (["up", "--wait", "--dry-run", "--build", "--force-recreate", "--remove-orphans"],
         ("up", False, {"wait": True, "dry_run": True, "build": True, "force_recreate": True,
                        "remove_orphans": True}, [])),
    ],
)  # fmt: skip
def test_plain_forms_are_taken(argv: list[str], expected: object) -> None:
    assert parse(argv) == expected


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--help"],
        ["status", "--help"],
        ["up", "--timeout", "5"],
        ["up", "--profile", "x"],
        ["status", "--wait"],
        ["up", "-C"],
        ["up", "-p", "a", "-p", "b"],
        ["status", "web"],
        ["down"],
        ["--debug", "status"],
        ["up", "-q"],
    ],
)
def test_everything_else_goes_to_typer(argv: list[str]) -> None:
    assert parse(argv) is None


def test_status_runs_without_typer_click_pydantic_or_rich(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("name: agrt-fastpath\nservices:\n  web:\n    image: busybox:1\n")
    code = (
        "import sys, json\n"
        "from archgen.cli import main\n"
        f"code = main(['status', '-C', {str(tmp_path)!r}, '--json'])\n"
        "heavy = sorted(m for m in ('typer', 'click', 'pydantic', 'rich') if m in sys.modules)\n"
        "print(json.dumps({'code': code, 'heavy': heavy}), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["heavy"] == []
    assert report["code"] in (0, 1)  # 1: no engine here, said in a message, still without Typer
