"""`archgen status`: what runs, with the engine's own health, ports and uptime."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.helpers import CliResult
from tests.runtime.dockerkit import ComposeProject, free_port, http_service, service

pytest_plugins = ["tests.runtime.docker_fixtures"]

Cli = Callable[..., CliResult]


def test_help(cli: Cli) -> None:
    result = cli("status", "--help")
    assert result.exit_code == 0
    assert "Example: archgen status --json" in result.stdout


@pytest.mark.docker
def test_status_json(cli: Cli, project: ComposeProject) -> None:
    port = free_port()
    project.write(
        {
            "web": http_service(
                ports=[f"127.0.0.1:{port}:8000"],
                healthcheck={"test": "wget -q -O /dev/null http://127.0.0.1:8000/", "interval": "1s"},
            ),
            "job": {"image": "archgen-test/busybox:1", "command": ["sh", "-c", "exit 4"]},
            "pair": service("sleep 1000", deploy={"replicas": 2}),
        }
    )
    assert cli(*project.args("up", "--wait", "--timeout", "1")).exit_code == 1  # the job exits 4
    result = cli(*project.args("status", "--json"))
    assert result.exit_code == 0
    rows = {row["container"]: row for row in result.json}
    assert sorted(rows) == [
        f"{project.name}-job-1",
        f"{project.name}-pair-1",
        f"{project.name}-pair-2",
        f"{project.name}-web-1",
    ]
    web = rows[f"{project.name}-web-1"]
    assert web["service"] == "web" and web["state"] == "running"
    assert web["health"] in ("starting", "healthy")
    assert web["ports"] == [f"127.0.0.1:{port}->8000/tcp"]
    assert web["uptime"] >= 0
    job = rows[f"{project.name}-job-1"]
    assert (job["state"], job["exit_code"], job["health"], job["uptime"]) == ("exited", 4, None, None)
    assert rows[f"{project.name}-pair-2"]["number"] == 2
    table = cli(*project.args("status"))
    head = table.stdout.splitlines()[0].split()
    assert head == ["SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS", "UPTIME"]
    assert any(
        line.split()[:3] == ["job", f"{project.name}-job-1", "exited"] for line in table.stdout.splitlines()
    )


@pytest.mark.docker
def test_status_without_containers(cli: Cli, project: ComposeProject) -> None:
    project.write({"web": service("sleep 1000")})
    assert cli(*project.args("status", "--json")).json == []
    assert f"project {project.name} has no containers" in cli(*project.args("status")).stderr
