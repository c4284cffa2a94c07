"""`archgen logs`: multiplexed output with a service prefix, --tail, --since, --follow."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import pytest

from tests.helpers import CliResult
from tests.runtime.dockerkit import IMAGE, ComposeProject, service

pytest_plugins = ["tests.runtime.docker_fixtures"]

Cli = Callable[..., CliResult]

PRINT_FIVE = "for i in 1 2 3 4 5; do echo line-$$i; done; touch /tmp/printed; exec sleep 1000"
PRINTED = {"test": ["CMD", "test", "-f", "/tmp/printed"]}


def test_help(cli: Cli) -> None:
    result = cli("logs", "--help")
    assert result.exit_code == 0
    assert "Example: archgen logs" in result.stdout


def test_bad_tail(cli: Cli) -> None:
    result = cli("logs", "--tail", "many")
    assert result.exit_code == 2
    assert "--tail: expected a number of lines or 'all'" in result.stderr


@pytest.mark.docker
def test_logs_tail_and_prefixes(cli: Cli, project: ComposeProject) -> None:
    project.write(
        {
            "api": service(["sh", "-c", PRINT_FIVE], healthcheck=PRINTED),
            "db": service(
                ["sh", "-c", "echo db-ready; touch /tmp/printed; exec sleep 1000"], healthcheck=PRINTED
            ),
        }
    )
    assert cli(*project.args("up", "--wait")).exit_code == 0
    result = cli(*project.args("logs", "api", "--tail", "2"))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["api | line-4", "api | line-5"]
    everything = cli(*project.args("logs")).stdout.splitlines()
    assert "db  | db-ready" in everything
    assert [line for line in everything if line.startswith("api")] == [f"api | line-{i}" for i in range(1, 6)]
    assert cli(*project.args("logs", "--since", "1h")).stdout.count("line-") == 5
    assert cli(*project.args("logs", "--since", str(int(time.time()) + 3600))).stdout == ""
    missing = cli(*project.args("logs", "nosuch"))
    assert missing.exit_code == 2 and "no containers for service(s) nosuch" in missing.stderr


@pytest.mark.docker
def test_logs_replicas_get_numbered_prefixes(cli: Cli, project: ComposeProject) -> None:
    project.write(
        {
            "web": service(
                ["sh", "-c", "echo hi; touch /tmp/printed; exec sleep 1000"],
                healthcheck=PRINTED,
                deploy={"replicas": 2},
            )
        }
    )
    assert cli(*project.args("up", "--wait")).exit_code == 0
    assert sorted(cli(*project.args("logs")).stdout.splitlines()) == ["web-1 | hi", "web-2 | hi"]


@pytest.mark.docker
def test_follow_picks_up_new_containers_and_ends_when_all_stop(cli: Cli, project: ComposeProject) -> None:
    project.write({"a": service(["sh", "-c", "echo a-started; exec sleep 1000"])})
    assert cli(*project.args("up")).exit_code == 0
    follower = subprocess.Popen(
        [sys.executable, "-m", "archgen", *project.args("logs", "-f")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.5)
        project.write(
            {
                "a": service(["sh", "-c", "echo a-started; exec sleep 1000"]),
                "b": {
                    "image": IMAGE,
                    "command": ["sh", "-c", "echo hello-from-b; sleep 0.5; echo bye-from-b"],
                },
            }
        )
        assert cli(*project.args("up")).exit_code == 0
        time.sleep(2)
        assert cli(*project.args("down", "-t", "1")).exit_code == 0
        out, err = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    lines = [line.split("|", 1) for line in out.splitlines()]
    pairs = [(prefix.strip(), text.strip()) for prefix, text in lines]
    assert ("a", "a-started") in pairs
    assert ("b", "hello-from-b") in pairs and ("b", "bye-from-b") in pairs
