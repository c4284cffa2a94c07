"""Pure parts of the compose verbs: one-off create args, restart order, pull targets, `-e` parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from archgen.errors import ArgumentError
from archgen.runtime.compose import load_project
from archgen.runtime.exec import parse_env
from archgen.runtime.images import pull_targets, selected
from archgen.runtime.model import LABEL_NUMBER, LABEL_ONEOFF, LABEL_SERVICE, Project
from archgen.runtime.oneoff import RunOptions, oneoff_args
from archgen.runtime.restart import restart_order
from tests.runtime.helpers import write_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "app").mkdir()
    write_project(
        tmp_path,
        {
            "name": "agvb-pure",
            "services": dict(
                db={"image": "redis:7.4.2-alpine", "networks": {"back": {"aliases": ["cache"]}}},
                api={
                    "build": "./app",
                    "ports": ["127.0.0.1:8080:80"],
                    "depends_on": ["db"],
                    "environment": {"A": "1"},
                    "restart": "always",
                    "container_name": "fixed-api",
                    "networks": ["back"],
                },
                worker={"image": "redis:7.4.2-alpine", "depends_on": ["api"], "networks": ["back"]},
            ),
            "networks": {"back": {}},
        },
    )
    return load_project(tmp_path, environ={})


def test_oneoff_args_drop_aliases_ports_restart_and_fixed_name(project: Project) -> None:
    options = RunOptions(command=("ls",), environment={"B": "2"})
    args = oneoff_args(project, project.services["api"], options, "abc")
    assert args.name == "agvb-pure-api-run-abc"
    labels = args.config["labels"]
    assert labels[LABEL_ONEOFF] == "True"
    assert labels[LABEL_SERVICE] == "api"
    assert LABEL_NUMBER not in labels
    assert args.config["command"] == ["ls"]
    assert args.config["environment"] == {"A": "1", "B": "2"}
    assert "port_bindings" not in args.host
    assert "restart_policy" not in args.host
    assert args.networks == [("agvb-pure_back", {"aliases": []})]
    assert args.config["detach"] is False


def test_oneoff_args_service_ports_and_entrypoint(project: Project) -> None:
    options = RunOptions(service_ports=True, entrypoint=("sh", "-c"), tty=True, interactive=True)
    args = oneoff_args(project, project.services["api"], options, "x")
    assert args.host["port_bindings"] == {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]}
    assert args.config["entrypoint"] == ["sh", "-c"]
    assert args.config["tty"] is True and args.config["stdin_open"] is True


def test_restart_order_is_dependency_order(project: Project) -> None:
    assert restart_order(project, []) == ["db", "api", "worker"]
    assert restart_order(project, ["worker", "db"]) == ["db", "worker"]
    with pytest.raises(ArgumentError, match="no such service: nope"):
        restart_order(project, ["nope"])


def test_pull_targets_skip_build_services_and_group_by_image(project: Project) -> None:
    assert pull_targets(selected(project, [])) == {"redis:7.4.2-alpine": ("db", "worker")}
    assert pull_targets(selected(project, ["api"])) == {}


def test_parse_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_HERE", "yes")
    assert parse_env(["A=1", "B=x=y", "FROM_HERE", "UNSET_ONE"]) == {"A": "1", "B": "x=y", "FROM_HERE": "yes"}
    with pytest.raises(ArgumentError):
        parse_env(["=1"])
