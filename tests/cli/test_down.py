"""`archgen down`: reverse order, volumes only on request, nothing that is not ours."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from archgen.runtime.engine import Engine
from tests.helpers import CliResult
from tests.runtime.dockerkit import ComposeProject, service

pytest_plugins = ["tests.runtime.docker_fixtures"]

Cli = Callable[..., CliResult]


def test_help(cli: Cli) -> None:
    result = cli("down", "--help")
    assert result.exit_code == 0
    assert "Example: archgen down --volumes" in result.stdout


@pytest.mark.docker
def test_down_keeps_named_volumes_unless_asked(
    cli: Cli, project: ComposeProject, docker_engine: Engine
) -> None:
    project.write(
        {
            "db": service(
                ["sh", "-c", "test -f /data/seen && echo second-run; touch /data/seen; exec sleep 1000"],
                volumes=["data:/data"],
            )
        },
        volumes={"data": {}},
    )
    volume = f"{project.name}_data"
    assert cli(*project.args("up", "--wait")).exit_code == 0
    result = cli(*project.args("down"))
    assert result.exit_code == 0
    assert "removed 1 container, 1 network" in result.stderr
    assert project.containers() == {}
    assert docker_engine.project_networks(project.name) == []
    assert docker_engine.project_volumes(project.name) == [volume]
    # the data survived: the second run sees the marker
    assert cli(*project.args("up", "--wait")).exit_code == 0
    deadline = time.monotonic() + 10
    while "second-run" not in cli(*project.args("logs")).stdout and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "second-run" in cli(*project.args("logs")).stdout
    result = cli(*project.args("down", "--volumes"))
    assert result.exit_code == 0
    assert "1 volume" in result.stderr
    assert docker_engine.project_volumes(project.name) == []


@pytest.mark.docker
def test_down_stops_dependants_first(cli: Cli, project: ComposeProject, docker_engine: Engine) -> None:
    project.write(
        {
            "db": service("sleep 1000"),
            "app": service("sleep 1000", depends_on=["db"]),
            "proxy": service("sleep 1000", depends_on=["app"]),
            "side": service("sleep 1000"),
        }
    )
    assert cli(*project.args("up")).exit_code == 0
    ids = project.ids()
    start = time.monotonic()
    result = cli(*project.args("down"))
    assert result.exit_code == 0
    assert time.monotonic() - start < 10
    lines = [line for line in result.stderr.splitlines() if ": stopping" in line]
    order = [line.split(":")[0] for line in lines]
    assert order.index("proxy") < order.index("app") < order.index("db")
    assert project.containers() == {}
    for container_id in ids.values():
        assert not any(c["Id"] == container_id for c in docker_engine.api.containers(all=True))


@pytest.mark.docker
def test_orphans_are_kept_unless_asked(cli: Cli, project: ComposeProject) -> None:
    project.write({"web": service("sleep 1000"), "old": service("sleep 1000")})
    assert cli(*project.args("up")).exit_code == 0
    project.write({"web": service("sleep 1000")})
    up = cli(*project.args("up"))
    assert "orphan containers" in up.stderr and f"{project.name}-old-1" in up.stderr
    result = cli(*project.args("down", "-t", "1"))
    assert result.exit_code == 0
    assert f"{project.name}-old-1" in result.stderr
    assert list(project.containers()) == [f"{project.name}-old-1"]
    assert cli(*project.args("down", "--remove-orphans", "-t", "1")).exit_code == 0
    assert project.containers() == {}


@pytest.mark.docker
def test_down_on_nothing_is_fine(cli: Cli, project: ComposeProject) -> None:
    project.write({"web": service("sleep 1000")})
    result = cli(*project.args("down"))
    assert result.exit_code == 0
    assert "removed 0 containers, 0 networks" in result.stderr
