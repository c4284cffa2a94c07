"""The compose verbs on the real engine: restart, exec, run, build, pull, config.

`exec` and `run` run archgen in a subprocess: they pass stdin and the container's
output through real file descriptors, and their exit code is the command's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from archgen.runtime.engine import Engine
from tests.helpers import REPO, CliResult
from tests.runtime.dockerkit import IMAGE, ComposeProject, service

pytest_plugins = ["tests.runtime.docker_fixtures"]

Cli = Callable[..., CliResult]
SLEEP = ["sh", "-c", "exec sleep 1000"]


@pytest.fixture
def proj(tmp_path: Path, docker_engine: Engine, busybox: str) -> Iterator[ComposeProject]:
    from archgen.cli import main

    project = ComposeProject(tmp_path / "proj", f"agvb-{uuid.uuid4().hex[:8]}", docker_engine)
    project.root.mkdir()
    yield project
    if (project.root / "compose.yaml").is_file():
        main(["-q", "down", "-C", str(project.root), "--volumes", "--remove-orphans", "-t", "1"])
    project.wipe()


def archgen(
    project: ComposeProject, *args: str, stdin: bytes | None = b""
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "archgen", *args], cwd=project.root, input=stdin, capture_output=True,
        env=env, timeout=120,
    )  # fmt: skip


def two_services(project: ComposeProject) -> None:
    project.write(
        {
            "db": service(SLEEP, networks={"default": {"aliases": ["database"]}}),
            "app": service(
                SLEEP, ports=["127.0.0.1::80"], depends_on=["db"], environment={"FROM": "compose"}
            ),
        }
    )


def test_help_has_examples(cli: Cli) -> None:
    for verb in ("restart", "exec", "run", "build", "pull", "config"):
        result = cli(verb, "--help")
        assert result.exit_code == 0, verb
        assert "Example: archgen " + verb in result.stdout, verb


@pytest.mark.docker
def test_exec_exit_code_streams_stdin_and_options(cli: Cli, proj: ComposeProject) -> None:
    two_services(proj)
    assert cli(*proj.args("up", "--wait")).exit_code == 0
    done = archgen(proj, "exec", "-T", "app", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"out\n", b"err\n")
    done = archgen(proj, "exec", "-T", "app", "cat", stdin=b"piped through\n")
    assert (done.returncode, done.stdout) == (0, b"piped through\n")
    done = archgen(proj, "exec", "-T", "-e", "FOO=bar", "-u", "nobody", "-w", "/tmp", "app",
                   "sh", "-c", "echo $FOO $FROM $(id -u) $(pwd)")  # fmt: skip
    assert done.stdout == b"bar compose 65534 /tmp\n", done.stderr
    # options after SERVICE belong to the command
    done = archgen(proj, "exec", "-T", "app", "ls", "-d", "--", "/tmp")
    assert (done.returncode, done.stdout) == (0, b"/tmp\n"), done.stderr
    done = archgen(proj, "exec", "--index", "2", "app", "true")
    assert done.returncode == 2
    assert b"no container number 2" in done.stderr
    assert cli(*proj.args("exec", "nope", "true")).exit_code == 1


@pytest.mark.docker
def test_run_oneoff_starts_deps_propagates_exit_code_and_down_removes_it(
    cli: Cli, proj: ComposeProject, docker_engine: Engine
) -> None:
    two_services(proj)
    done = archgen(proj, "run", "--rm", "-T", "-e", "X=1", "app", "sh", "-c", "echo x=$X $FROM; exit 4")
    assert (done.returncode, done.stdout) == (4, b"x=1 compose\n"), done.stderr
    containers = proj.containers()
    assert [c.service for c in containers.values()] == ["db"]  # the dependency, and no one-off left
    assert containers[f"{proj.name}-db-1"].state == "running"

    done = archgen(proj, "run", "-T", "--no-deps", "app", "cat", stdin=b"hello\n")
    assert (done.returncode, done.stdout) == (0, b"hello\n"), done.stderr
    oneoffs = [c for c in proj.containers().values() if c.oneoff]
    assert len(oneoffs) == 1
    oneoff = oneoffs[0]
    assert oneoff.name.startswith(f"{proj.name}-app-run-")
    info = docker_engine.inspect(oneoff.id)
    assert not info["HostConfig"].get("PortBindings")
    aliases = info["NetworkSettings"]["Networks"][f"{proj.name}_default"]["Aliases"] or []
    assert "app" not in aliases
    status = cli(*proj.args("status", "--json"))
    assert [(r["service"], r["oneoff"]) for r in status.json if r["oneoff"]] == [("app", True)]
    assert "app (run)" in cli(*proj.args("status")).stdout

    result = cli(*proj.args("down", "-t", "1"))
    assert result.exit_code == 0
    assert proj.containers() == {}


@pytest.mark.docker
def test_restart_in_dependency_order_keeps_containers(
    cli: Cli, proj: ComposeProject, docker_engine: Engine
) -> None:
    two_services(proj)
    assert cli(*proj.args("up", "--wait")).exit_code == 0
    before = {name: docker_engine.inspect(cid)["State"]["StartedAt"] for name, cid in proj.ids().items()}
    result = cli(*proj.args("restart", "--json", "--wait", "-t", "1"))
    assert result.exit_code == 0, result.stderr
    assert result.json["order"] == ["db", "app"]
    assert result.stderr.index("db: restarting") < result.stderr.index("app: restarting")
    after = {name: docker_engine.inspect(cid)["State"]["StartedAt"] for name, cid in proj.ids().items()}
    assert set(after) == set(before)
    assert all(after[n] != before[n] for n in before)
    only = cli(*proj.args("restart", "app", "-t", "1"))
    assert only.exit_code == 0
    assert "restarted 1 container(s) of app" in only.stderr
    assert cli(*proj.args("restart", "nope")).exit_code == 2


@pytest.mark.docker
def test_build_builds_build_services(cli: Cli, proj: ComposeProject, docker_engine: Engine) -> None:
    proj.file("app/Dockerfile", f"FROM {IMAGE}\nRUN echo built-marker > /marker\n")
    proj.write({"app": {"build": "./app", "command": ["cat", "/marker"]}, "db": service(SLEEP)})
    tag = f"{proj.name}-app:latest"
    try:
        result = cli(*proj.args("build", "--json", "--no-cache"))
        assert result.exit_code == 0, result.stderr
        assert result.json["images"][tag]["action"] == "built"
        assert docker_engine.image_id(tag)
        assert "app |" in result.stderr  # the build output is streamed
        done = archgen(proj, "run", "--rm", "-T", "app")
        assert done.stdout == b"built-marker\n"
        assert cli(*proj.args("build", "db")).stderr.count("no service to build") == 1
    finally:
        docker_engine.api.remove_image(tag, force=True)


@pytest.mark.docker
def test_pull_failure_is_clear_and_can_be_ignored(cli: Cli, proj: ComposeProject) -> None:
    proj.write({"db": service(SLEEP), "cache": {"image": "redis:7.4.2-alpine"}})
    # No registry is reachable here: pulling fails fast, naming the image and the engine's reason.
    result = cli(*proj.args("pull", "db"))
    assert result.exit_code == 1
    assert f"pulling image {IMAGE} (service 'db') failed:" in result.stderr
    ignored = cli(*proj.args("pull", "--ignore-pull-failures", "--json", "db"))
    assert ignored.exit_code == 0
    assert ignored.json["images"][IMAGE]["action"] == "failed"
    assert "warning: pulling image" in ignored.stderr
    present = cli(*proj.args("pull", "--policy", "missing", "--json"))
    assert present.exit_code == 0, present.stderr
    assert {ref: e["action"] for ref, e in present.json["images"].items()} == {
        IMAGE: "present",
        "redis:7.4.2-alpine": "present",
    }


def test_config_prints_the_resolved_model(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "p"
    root.mkdir()
    (root / ".env").write_text("TAG=7.4.2-alpine\n")
    compose = {
        "name": "agvb-config",
        "services": {
            "cache": {"image": "redis:${TAG}", "environment": ["A=$${LITERAL}"], "volumes": ["data:/data"]},
            "api": {
                "image": "python:3.12.8-slim",
                "depends_on": ["cache"],
                "healthcheck": {"test": "true", "interval": "1m30s"},
            },
        },
        "volumes": {"data": {}},
    }
    (root / "compose.yaml").write_text(yaml.safe_dump(compose))
    result = cli("config", "-C", root)
    assert result.exit_code == 0, result.stderr
    doc = yaml.safe_load(result.stdout)
    assert list(doc) == ["name", "services", "networks", "volumes"]
    assert doc["services"]["cache"]["image"] == "redis:7.4.2-alpine"
    assert doc["services"]["cache"]["environment"] == {"A": "$${LITERAL}"}
    assert doc["services"]["api"]["healthcheck"]["interval"] == 90
    assert doc["volumes"]["data"]["name"] == "agvb-config_data"
    as_json = cli("config", "-C", root, "--json")
    assert json.loads(as_json.stdout)["services"]["cache"]["environment"] == {"A": "${LITERAL}"}
    assert cli("config", "-C", root, "--services").stdout == "cache\napi\n"
    assert cli("config", "-C", root, "--volumes").stdout == "data\n"
    # the printed file loads to the same project
    again = tmp_path / "again"
    again.mkdir()
    (again / "compose.yaml").write_text(result.stdout)
    assert cli("config", "-C", again).stdout == result.stdout
    assert cli("config", "-C", tmp_path / "missing").exit_code == 2


def on_terminal(project: ComposeProject, *args: str, send: bytes = b"") -> tuple[int, bytes]:
    """Run archgen on a pseudo-terminal (as a person would); return its exit code and what it showed."""
    import pty
    import select
    import time

    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: become archgen
        os.chdir(project.root)
        os.execve(sys.executable, [sys.executable, "-m", "archgen", *args], env)
    shown = b""
    if send:
        time.sleep(1.0)
        os.write(fd, send)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break
            if not data:
                break
            shown += data
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), shown


@pytest.mark.docker
def test_exec_and_run_on_a_terminal_get_a_tty_and_forward_input(cli: Cli, proj: ComposeProject) -> None:
    two_services(proj)
    assert cli(*proj.args("up", "--wait")).exit_code == 0
    code, shown = on_terminal(proj, "exec", "app", "sh", send=b"echo hi-$((1+2))\nexit 9\n")
    assert code == 9
    assert b"hi-3" in shown
    code, shown = on_terminal(proj, "exec", "app", "sh", "-c", "tty; exit 7")
    assert (code, b"/dev/pts/" in shown) == (7, True)
    code, shown = on_terminal(proj, "exec", "-T", "app", "sh", "-c", "tty || exit 8")
    assert (code, b"not a tty" in shown) == (8, True)
    code, shown = on_terminal(proj, "run", "--rm", "app", "sh", "-c", "tty; exit 6")
    assert (code, b"/dev/pts/" in shown) == (6, True)
    assert not [c for c in proj.containers().values() if c.oneoff]


@pytest.mark.docker
def test_run_waits_for_a_healthy_dependency(cli: Cli, proj: ComposeProject) -> None:
    proj.write(
        {
            "db": service(
                ["sh", "-c", "sleep 1; touch /shared/ready; exec sleep 1000"],
                volumes=["shared:/shared"],
                healthcheck={"test": ["CMD", "test", "-f", "/shared/ready"], "interval": "30s"},
            ),
            "app": service(
                SLEEP, volumes=["shared:/shared"], depends_on={"db": {"condition": "service_healthy"}}
            ),
        },
        volumes={"shared": {}},
    )
    # the one-off starts only once db is healthy: it sees the file db's healthcheck waits for
    done = archgen(proj, "run", "--rm", "-T", "app", "ls", "/shared")
    assert (done.returncode, done.stdout) == (0, b"ready\n"), done.stderr
