"""`archgen up`: options and errors without Docker, then the real thing on the engine."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archgen.errors import EngineError
from archgen.runtime.compose import load_project
from archgen.runtime.converge import UpOptions, up
from archgen.runtime.engine import Engine
from archgen.runtime.progress import Progress
from tests.helpers import CliResult
from tests.runtime.dockerkit import IMAGE, ComposeProject, free_port, http_service, service

pytest_plugins = ["tests.runtime.docker_fixtures"]

Cli = Callable[..., CliResult]


def write(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "compose.yaml").write_text(text)
    return root


# ------------------------------------------------------------------ without Docker


def test_help_has_an_example(cli: Cli) -> None:
    result = cli("up", "--help")
    assert result.exit_code == 0
    assert "Example: archgen up --wait" in result.stdout
    for option in (
        "--wait",
        "--timeout",
        "--build",
        "--pull",
        "--force-recreate",
        "--remove-orphans",
        "--dry-run",
        "--json",
    ):
        assert option in result.stdout


def test_unsupported_key_exits_2_naming_the_key(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path, "name: demo\nservices:\n  web:\n    image: x\n    volumes_from: [db]\n")
    result = cli("up", "-C", tmp_path)
    assert result.exit_code == 2
    assert "services.web.volumes_from: unsupported key 'volumes_from'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cycle_exits_2_with_the_cycle(cli: Cli, tmp_path: Path) -> None:
    write(
        tmp_path,
        "name: demo\nservices:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n",
    )
    result = cli("up", "-C", tmp_path)
    assert result.exit_code == 2
    assert "dependency cycle: a -> b -> a" in result.stderr


def test_required_variable_message(cli: Cli, tmp_path: Path) -> None:
    write(
        tmp_path,
        "name: demo\nservices:\n  db:\n    image: x\n"
        "    environment:\n      P: ${DB_PASSWORD:?set it in .env}\n",
    )
    result = cli("up", "-C", tmp_path)
    assert result.exit_code == 2
    assert "required variable DB_PASSWORD is missing a value: set it in .env" in result.stderr


def test_no_project_name_is_an_error(cli: Cli, tmp_path: Path) -> None:
    write(tmp_path / "shop", "services:\n  web: {image: x}\n")
    result = cli("up", "-C", tmp_path / "shop")
    assert result.exit_code == 2
    assert "cannot tell the project name" in result.stderr


def test_missing_compose_file(cli: Cli, tmp_path: Path) -> None:
    result = cli("up", "-C", tmp_path)
    assert result.exit_code == 2
    assert f"no compose.yaml in {tmp_path}" in result.stderr


@pytest.mark.parametrize("command", ["up", "down", "status", "logs"])
def test_unreachable_engine_is_a_clear_message(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    write(tmp_path, "name: demo\nservices:\n  web: {image: x}\n")
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    result = cli(command, "-C", tmp_path)
    assert result.exit_code == 1
    assert (
        "cannot reach the Docker engine at unix:///nonexistent.sock (from DOCKER_HOST): no such socket"
        in result.stderr
    )
    assert "systemctl start docker" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_engine_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    write(tmp_path, "name: demo\nservices:\n  web: {image: x}\n")
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}
    done = subprocess.run(
        [sys.executable, "-m", "archgen", "up", "-C", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1
    assert "error: cannot reach the Docker engine at unix:///nonexistent.sock" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ with Docker


@pytest.mark.docker
def test_wait_follows_a_service_healthy_chain_fast(cli: Cli, project: ComposeProject) -> None:
    # Healthchecks keep Docker's 30 s default interval: without archgen's own probes
    # this chain could not be healthy in less than a minute.
    project.write(
        {
            "a": http_service(before="sleep 1; "),
            "b": http_service(
                before="wget -q -O /dev/null http://a:8000/ || exit 11; ",
                depends_on={"a": {"condition": "service_healthy"}},
            ),
            "c": service(
                ["sh", "-c", "wget -q -O /dev/null http://b:8000/ || exit 12; exec sleep 1000"],
                depends_on={"b": {"condition": "service_healthy"}},
            ),
        }
    )
    start = time.monotonic()
    result = cli(*project.args("up", "--wait", "--json"))
    elapsed = time.monotonic() - start
    assert result.exit_code == 0, result.stderr
    assert elapsed < 20
    data = result.json
    assert {name: s["state"] for name, s in data["services"].items()} == {
        "a": "healthy",
        "b": "healthy",
        "c": "running",
    }
    containers = project.containers()
    assert {c.state for c in containers.values()} == {"running"}  # b and c reached their dependency
    status = cli(*project.args("status", "--json")).json
    # status shows the engine's own health, which may lag archgen's probe
    assert {row["service"]: row["health"] in ("starting", "healthy") for row in status} == {
        "a": True,
        "b": True,
        "c": False,
    }


@pytest.mark.docker
def test_up_twice_changes_nothing(cli: Cli, project: ComposeProject) -> None:
    project.write(
        {
            "db": http_service(volumes=["data:/data"]),
            "web": service("sleep 1000", depends_on={"db": {"condition": "service_healthy"}}),
        },
        volumes={"data": {}},
    )
    assert cli(*project.args("up", "--wait")).exit_code == 0
    before = project.ids()
    second = cli(*project.args("up", "--json"))
    assert second.exit_code == 0
    assert second.json["changed"] is False
    assert f"project {project.name} is up to date" in second.stderr
    assert project.ids() == before
    third = cli(*project.args("up", "--wait"))
    assert third.exit_code == 0
    assert project.ids() == before


@pytest.mark.docker
def test_changing_an_env_var_recreates_only_that_service(
    cli: Cli, project: ComposeProject, docker_engine: Engine
) -> None:
    services = {
        "a": service("sleep 1000", environment={"GREETING": "${GREETING}"}),
        "b": service("sleep 1000", depends_on=["a"]),
    }
    project.write(services, env="GREETING=hello\n")
    assert cli(*project.args("up")).exit_code == 0
    before = project.ids()
    project.write(services, env="GREETING=bye\n")
    dry = cli(*project.args("up", "--dry-run"))
    plan = [line.split() for line in dry.stdout.splitlines()]
    assert ["recreate", "a", f"{project.name}-a-1", "(config", "hash", "changed)"] in plan
    assert ["keep", "b", f"{project.name}-b-1"] in plan
    assert cli(*project.args("up")).exit_code == 0
    after = project.ids()
    assert after[f"{project.name}-b-1"] == before[f"{project.name}-b-1"]
    assert after[f"{project.name}-a-1"] != before[f"{project.name}-a-1"]
    env = docker_engine.inspect(after[f"{project.name}-a-1"])["Config"]["Env"]
    assert "GREETING=bye" in env


@pytest.mark.docker
def test_replicas_and_scale_down(cli: Cli, project: ComposeProject) -> None:
    project.write({"web": service("sleep 1000", deploy={"replicas": 3})})
    assert cli(*project.args("up", "--wait")).exit_code == 0
    names = sorted(project.containers())
    assert names == [f"{project.name}-web-{n}" for n in (1, 2, 3)]
    first = project.ids()[f"{project.name}-web-1"]
    project.write({"web": service("sleep 1000", deploy={"replicas": 1})})
    assert cli(*project.args("up")).exit_code == 0
    assert project.ids() == {f"{project.name}-web-1": first}


@pytest.mark.docker
def test_one_off_job_with_service_completed_successfully(cli: Cli, project: ComposeProject) -> None:
    project.write(
        {
            "migrate": {
                "image": IMAGE,
                "command": ["sh", "-c", "sleep 1; echo migrated > /data/done"],
                "volumes": ["data:/data"],
            },
            "web": service(
                ["sh", "-c", "test -f /data/done || exit 5; exec sleep 1000"],
                volumes=["data:/data"],
                depends_on={"migrate": {"condition": "service_completed_successfully"}},
            ),
        },
        volumes={"data": {}},
    )
    result = cli(*project.args("up", "--wait", "--json"))
    assert result.exit_code == 0, result.stderr
    assert result.json["services"]["migrate"]["state"] == "completed"
    containers = project.containers()
    assert containers[f"{project.name}-migrate-1"].state == "exited"
    assert containers[f"{project.name}-web-1"].state == "running"
    again = cli(*project.args("up", "--json"))
    assert again.json["changed"] is False  # the finished job is not run again
    assert project.containers()[f"{project.name}-migrate-1"].id == containers[f"{project.name}-migrate-1"].id


@pytest.mark.docker
def test_failing_command_reports_exit_code_and_log_lines(
    cli: Cli,
    project: ComposeProject,
    docker_engine: Engine,
) -> None:
    project.write(
        {
            "bad": {"image": IMAGE, "command": ["sh", "-c", "echo boom-1; echo boom-2; exit 3"]},
            "web": service("sleep 1000", depends_on={"bad": {"condition": "service_completed_successfully"}}),
            "other": service("sleep 1000"),
        }
    )
    loaded = load_project(project.root)
    with pytest.raises(EngineError) as caught:
        up(loaded, docker_engine, UpOptions(wait=True, timeout=60), Progress())
    text = caught.value.message
    assert f"service 'bad' failed: container {project.name}-bad-1 exited with code 3" in text
    assert f"log lines of {project.name}-bad-1:" in text
    assert "  | boom-2" in text
    assert "not started because a dependency failed: web" in text
    result = cli(*project.args("up"))
    assert result.exit_code == 1
    assert "exited with code 3" in result.stderr and "boom-1" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.containers()[f"{project.name}-other-1"].state == "running"  # left for inspection


@pytest.mark.docker
def test_unhealthy_dependency_reports_health_output(cli: Cli, project: ComposeProject) -> None:
    project.write(
        {
            "db": service(
                ["sh", "-c", "echo starting db; exec sleep 1000"],
                healthcheck={"test": "echo db-not-ready; exit 1", "interval": "1s", "retries": 1},
            ),
            "web": service("sleep 1000", depends_on={"db": {"condition": "service_healthy"}}),
        }
    )
    result = cli(*project.args("up", "--timeout", "30"))
    assert result.exit_code == 1
    assert f"service 'db' failed: container {project.name}-db-1 is unhealthy" in result.stderr
    assert "last health check output: db-not-ready" in result.stderr
    assert "starting db" in result.stderr


@pytest.mark.docker
def test_timeout_waiting_for_health(cli: Cli, project: ComposeProject) -> None:
    project.write({"db": service("sleep 1000", healthcheck={"test": "echo nope; exit 1"})})
    result = cli(*project.args("up", "--wait", "--timeout", "2"))
    assert result.exit_code == 1
    assert "did not become healthy within 2 s" in result.stderr
    assert "last health check output: nope" in result.stderr


@pytest.mark.docker
def test_foreign_same_named_container_makes_up_fail_and_survives_down(
    cli: Cli,
    project: ComposeProject,
    docker_engine: Engine,
) -> None:
    project.write({"web": service("sleep 1000")})
    name = f"{project.name}-web-1"
    foreign = docker_engine.api.create_container(IMAGE, ["sleep", "1000"], name=name)["Id"]
    try:
        result = cli(*project.args("up"))
        assert result.exit_code == 1
        assert f"container '{name}' exists and is not ours (not labelled io.archgen.project)" in result.stderr
        assert cli(*project.args("down")).exit_code == 0
        assert docker_engine.api.inspect_container(foreign)["Id"] == foreign
    finally:
        docker_engine.api.remove_container(foreign, force=True)


@pytest.mark.docker
def test_port_held_by_a_container(cli: Cli, project: ComposeProject, docker_engine: Engine) -> None:
    port = free_port()
    holder_name = f"agtest-holder-{uuid.uuid4().hex[:6]}"
    api = docker_engine.api
    holder = api.create_container(
        IMAGE,
        ["sleep", "1000"],
        name=holder_name,
        ports=[8000],
        host_config=api.create_host_config(port_bindings={8000: ("127.0.0.1", port)}, init=True),
    )["Id"]
    try:
        api.start(holder)
        project.write({"web": http_service(ports=[f"127.0.0.1:{port}:8000"])})
        result = cli(*project.args("up"))
        assert result.exit_code == 1
        assert (
            f"port {port} is already allocated: service 'web' (container {project.name}-web-1) "
            f"cannot publish it; held by container '{holder_name}'"
        ) in result.stderr
    finally:
        api.remove_container(holder, force=True)


def _up_with_a_port_held(cli: Cli, project: ComposeProject, name: str,
                         **extra: Any) -> tuple[int, CliResult]:
    """`up` of one service `name` publishing a loopback port this process listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        project.write({name: http_service(ports=[f"127.0.0.1:{port}:8000"], **extra)})
        return port, cli(*project.args("up"))


@pytest.mark.docker
def test_port_held_by_a_process(cli: Cli, project: ComposeProject) -> None:
    port, result = _up_with_a_port_held(cli, project, "web")
    assert result.exit_code == 1
    assert f"port {port} is already allocated: service 'web'" in result.stderr
    assert "held by another process on this machine" in result.stderr


@pytest.mark.docker
def test_a_local_uis_taken_port_names_its_spec_key(cli: Cli, project: ComposeProject) -> None:
    port, result = _up_with_a_port_held(cli, project, "grafana",
                                        labels={"io.archgen.ui.key": "ui_ports.grafana"})
    assert result.exit_code == 1
    assert f"port {port} is already allocated: service 'grafana'" in result.stderr
    assert "set ui_ports.grafana in archgen.yaml to a free port" in " ".join(result.stderr.split())


@pytest.mark.docker
def test_dry_run_prints_the_plan_and_changes_nothing(
    cli: Cli, project: ComposeProject, docker_engine: Engine
) -> None:
    project.write(
        {
            "db": service("sleep 1000", volumes=["data:/data"]),
            "web": service("sleep 1000", deploy={"replicas": 2}),
        },
        volumes={"data": {}},
    )
    result = cli(*project.args("up", "--dry-run"))
    assert result.exit_code == 0
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["plan", "for", "project", f"{project.name}:", "changes"]
    assert ["create", "network", f"{project.name}_default", "(missing)"] in lines
    assert ["create", "volume", f"{project.name}_data", "(missing)"] in lines
    assert ["create", "web", f"{project.name}-web-2", "(missing)"] in lines
    as_json = cli(*project.args("up", "--dry-run", "--json")).json
    assert as_json["dry_run"] is True and as_json["plan"]["changes"] is True
    assert project.containers() == {}
    assert docker_engine.project_networks(project.name) == []
    assert docker_engine.project_volumes(project.name) == []


@pytest.mark.docker
def test_image_missing_and_not_pullable(cli: Cli, project: ComposeProject) -> None:
    # A registry on a closed local port: the pull fails at once and sends nothing off the machine.
    image = "127.0.0.1:1/agtest/missing:1"
    project.write({"web": {"image": image}})
    result = cli(*project.args("up"))
    assert result.exit_code == 1
    assert f"image {image} (service 'web') is not present and could not be pulled" in result.stderr
    never = cli(*project.args("up", "--pull", "never"))
    assert never.exit_code == 1
    assert f"{image} (service 'web')" in never.stderr and "'never'" in never.stderr


@pytest.mark.docker
def test_build_with_args_target_env_file_and_read_only_bind(
    cli: Cli,
    project: ComposeProject,
    docker_engine: Engine,
) -> None:
    project.file(
        "app/Dockerfile",
        f'FROM {IMAGE} AS base\nARG GREETING=default\nRUN echo "$GREETING" > /greeting\n'
        'FROM base AS run\nCMD ["sh", "-c", "cat /greeting; exec sleep 1000"]\n'
        'FROM base AS other\nCMD ["sh", "-c", "echo wrong target; exit 1"]\n',
    )
    project.file("app.env", "APP_MODE=test\n")
    project.file("conf/app.conf", "mode=ok\n")
    project.write(
        {
            "app": {
                "build": {
                    "context": "./app",
                    "dockerfile": "Dockerfile",
                    "args": {"GREETING": "${GREETING}"},
                    "target": "run",
                },
                "env_file": "./app.env",
                "volumes": ["./conf/app.conf:/etc/app.conf:ro"],
                "init": True,
                # `$$` keeps compose from interpolating: the container's shell expands these
                "healthcheck": {"test": 'test "$$(cat /etc/app.conf)" = mode=ok && test "$$APP_MODE" = test'},
            }
        },
        env="GREETING=built-with-args\n",
    )
    tag = f"{project.name}-app:latest"
    try:
        result = cli(*project.args("up", "--wait"))
        assert result.exit_code == 0, result.stderr
        image = docker_engine.api.inspect_image(tag)
        assert image["Config"]["Labels"]["io.archgen.project"] == project.name
        logs = cli(*project.args("logs"))
        assert "app | built-with-args" in logs.stdout
        container = project.ids()[f"{project.name}-app-1"]
        code, _ = docker_engine.exec_probe(container, ["sh", "-c", "echo x > /etc/app.conf"])
        assert code != 0  # mounted read-only
        again = cli(*project.args("up", "--build", "--json"))
        assert again.exit_code == 0
        assert again.json["changed"] is True  # a build ran...
        assert project.ids()[f"{project.name}-app-1"] == container  # ...but the image did not change
    finally:
        cli(*project.args("down", "-t", "1"))
        docker_engine.api.remove_image(tag, force=True)


@pytest.mark.docker
def test_build_failure_shows_the_end_of_the_build_output(cli: Cli, project: ComposeProject) -> None:
    project.file("app/Dockerfile", f"FROM {IMAGE}\nRUN echo preparing-step && exit 7\n")
    project.write({"app": {"build": "./app"}})
    result = cli(*project.args("up"))
    assert result.exit_code == 1
    assert f"building image {project.name}-app:latest for service 'app' failed" in result.stderr
    assert "lines of build output:" in result.stderr
    assert "preparing-step" in result.stderr


@pytest.mark.docker
def test_first_ctrl_c_stops_waiting_and_leaves_a_consistent_state(project: ComposeProject) -> None:
    project.write({"db": service("sleep 1000", healthcheck={"test": "exit 1"})})
    proc = subprocess.Popen(
        [sys.executable, "-m", "archgen", *project.args("up", "--wait")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    seen = ""
    deadline = time.monotonic() + 30
    while "waiting for health" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=20)
    assert proc.returncode == 130
    assert "interrupted" in seen + rest
    assert "Traceback" not in seen + rest
    containers = project.containers()
    assert [c.state for c in containers.values()] == ["running"]


@pytest.mark.docker
def test_json_result(cli: Cli, project: ComposeProject) -> None:
    project.write({"web": service("sleep 1000")})
    result = cli(*project.args("up", "--json"))
    data = json.loads(result.stdout)
    assert data["project"] == project.name
    assert data["services"]["web"]["containers"][0]["name"] == f"{project.name}-web-1"
    assert data["services"]["web"]["containers"][0]["action"] == "create"


@pytest.mark.docker
def test_crash_looping_dependency_fails_fast(cli: Cli, project: ComposeProject) -> None:
    project.write(
        {
            "db": service(
                ["sh", "-c", "echo crashing; sleep 0.3; exit 2"],
                restart="always",
                healthcheck={"test": "test -f /never"},
            ),
            "web": service("sleep 1000", depends_on={"db": {"condition": "service_healthy"}}),
        }
    )
    start = time.monotonic()
    result = cli(*project.args("up", "--timeout", "60"))
    assert result.exit_code == 1
    assert time.monotonic() - start < 30
    assert "exited with code 2 and is being restarted" in result.stderr or "was restarted" in result.stderr
    assert "crashing" in result.stderr
