"""Issue 15's compose keys on the engine: seen in `docker inspect`; one change recreates one container."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import CliResult, unavailable
from tests.runtime.dockerkit import ComposeProject, service

pytest_plugins = ["tests.runtime.docker_fixtures"]
pytestmark = pytest.mark.docker

Cli = Callable[..., CliResult]
STANDIN = "archgen-standin/debian:bookworm"


def _write(project: ComposeProject, worker_nofile: int = 4096) -> None:
    project.file(
        "common.yaml",
        yaml.safe_dump(
            {
                "services": {
                    "sleeper": {
                        "image": STANDIN,
                        "command": ["sleep", "infinity"],
                        "init": True,
                        "labels": {"agrt.extended": "yes"},
                        "stop_grace_period": "1s",
                    }
                }
            }
        ),
    )
    project.file("db_password.txt", "hunter2\n")
    sleeper = {"extends": {"file": "common.yaml", "service": "sleeper"}}
    project.write(
        {
            "app": {
                **sleeper,
                "container_name": f"{project.name}-the-app",
                "secrets": [
                    "db_password",
                    {"source": "api_key", "target": "api.key", "uid": "1000", "gid": "1000", "mode": 0o400},
                ],
                "configs": [{"source": "app_conf", "target": "/etc/app.conf"}],
                "ulimits": {"nofile": {"soft": 1024, "hard": 2048}},
                "extra_hosts": ["example.internal:10.1.2.3"],
            },
            "sidecar": {**sleeper, "network_mode": "service:app"},
            "worker": {**sleeper, "ulimits": {"nofile": worker_nofile}},
        },
        env="AGRT_API_KEY=s3cret\n",
        secrets={"db_password": {"file": "./db_password.txt"}, "api_key": {"environment": "AGRT_API_KEY"}},
        configs={"app_conf": {"content": "key=value\n"}},
    )


def _exec(project: ComposeProject, container_id: str, *command: str) -> str:
    code, output = project.engine.exec_probe(container_id, list(command))
    assert code == 0, output
    return output.strip()


def test_issue15_keys_run_on_the_engine(cli: Cli, project: ComposeProject) -> None:
    if not project.engine.image_id(STANDIN):
        unavailable(f"stand-in image {STANDIN} is not built (scripts/standin-images builds it)")
    _write(project)
    result = cli(*project.args("up", "--wait"))
    assert result.exit_code == 0, result.stderr
    ids = project.ids()
    app_name = f"{project.name}-the-app"
    assert set(ids) == {app_name, f"{project.name}-sidecar-1", f"{project.name}-worker-1"}
    inspect: dict[str, dict[str, Any]] = {name: project.engine.inspect(cid) for name, cid in ids.items()}
    app = inspect[app_name]
    host = app["HostConfig"]
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["ExtraHosts"] == ["example.internal:10.1.2.3"]
    assert app["Config"]["Labels"]["agrt.extended"] == "yes"  # from extends
    binds = {m["Destination"]: m for m in app["Mounts"]}
    assert binds["/run/secrets/db_password"]["Source"] == str(project.root / "db_password.txt")
    assert binds["/run/secrets/db_password"]["RW"] is False
    app_id = ids[app_name]
    assert _exec(project, app_id, "cat", "/run/secrets/db_password") == "hunter2"
    assert _exec(project, app_id, "cat", "/run/secrets/api.key") == "s3cret"
    assert _exec(project, app_id, "stat", "-c", "%u %g %a", "/run/secrets/api.key") == "1000 1000 400"
    assert _exec(project, app_id, "cat", "/etc/app.conf") == "key=value"
    assert "10.1.2.3\texample.internal" in _exec(project, app_id, "cat", "/etc/hosts")
    sidecar = inspect[f"{project.name}-sidecar-1"]
    assert sidecar["HostConfig"]["NetworkMode"] in (f"container:{app_name}", f"container:{app_id}")
    assert sidecar["Config"]["Labels"]["agrt.extended"] == "yes"
    sidecar_id = ids[f"{project.name}-sidecar-1"]
    assert _exec(project, sidecar_id, "hostname") == _exec(project, app_id, "hostname")
    worker = inspect[f"{project.name}-worker-1"]
    assert worker["HostConfig"]["Ulimits"] == [{"Name": "nofile", "Soft": 4096, "Hard": 4096}]

    assert cli(*project.args("up")).exit_code == 0
    assert project.ids() == ids  # unchanged: nothing recreated

    _write(project, worker_nofile=8192)  # one setting of one service
    dry = cli(*project.args("up", "--dry-run", "--json")).json
    actions = {s["name"]: s["action"] for steps in dry["plan"]["containers"].values() for s in steps}
    assert actions == {
        app_name: "keep",
        f"{project.name}-sidecar-1": "keep",
        f"{project.name}-worker-1": "recreate",
    }
    assert cli(*project.args("up")).exit_code == 0
    after = project.ids()
    assert after[app_name] == ids[app_name]
    assert after[f"{project.name}-sidecar-1"] == ids[f"{project.name}-sidecar-1"]
    assert after[f"{project.name}-worker-1"] != ids[f"{project.name}-worker-1"]


def test_dependants_are_created_while_their_dependencies_start(project: ComposeProject) -> None:
    slow = service(
        ["sh", "-c", "sleep 2; touch /tmp/ready; exec sleep 1000"],
        healthcheck={"test": ["CMD", "test", "-f", "/tmp/ready"]},
    )
    project.write(
        {"db": slow, "app": service("sleep 1000", depends_on={"db": {"condition": "service_healthy"}})}
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    argv = [sys.executable, "-m", "archgen", "-q", *project.args("up", "--wait")]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_created = False
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            states = {c.service: c.state for c in project.containers().values()}
            if states.get("app") == "created" and states.get("db") == "running":
                seen_created = True
            time.sleep(0.05)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert seen_created  # made while db was still starting; only its start waited
    assert {c.service: c.state for c in project.containers().values()} == {"db": "running", "app": "running"}
