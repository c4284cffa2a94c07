"""The Swarm stack writer and the deploy planner, with plain fakes (no engine)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from archgen.errors import ArgumentError
from archgen.export import build_export
from archgen.export.report import Report
from archgen.export.swarm import SPEC_HASH_LABEL, build_stack
from archgen.model import resolve
from archgen.runtime.swarm_plan import (
    Observed,
    ObservedService,
    desired_state,
    plan,
    removal,
    rollback,
)
from archgen.spec import load_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _entrypoints(image: str) -> tuple[list[str], list[str]] | None:
    return (["docker-entrypoint.sh"], ["serve"]) if not image.startswith("missing") else None


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from archgen.render import Renderer

    root = tmp_path_factory.mktemp("swarm") / "project"
    Renderer(load_spec(EXAMPLES / "scaled.yaml"), root).write()
    return root


def _stack(project: Path, image_config: object = _entrypoints) -> tuple[object, Report]:
    report = Report("swarm")
    architecture = resolve(load_spec(project / "archgen.yaml"))
    return build_stack(architecture, project, report, image_config), report  # type: ignore[arg-type]


def test_replicas_become_one_service_reachable_by_every_old_name(project: Path) -> None:
    stack, _ = _stack(project)
    app = stack.document["services"]["app"]  # type: ignore[attr-defined]
    assert app["deploy"]["replicas"] == 3
    assert app["deploy"]["update_config"]["order"] == "start-first"
    assert app["deploy"]["endpoint_mode"] == "dnsrr"
    assert app["networks"]["backend"]["aliases"] == ["app-1", "app-2", "app-3"]
    assert "app-1" not in stack.document["services"]  # type: ignore[attr-defined]


def test_databases_stop_first_pinned_and_on_an_internal_network(project: Path) -> None:
    stack, _ = _stack(project)
    doc = stack.document  # type: ignore[attr-defined]
    db = doc["services"]["db-1"]["deploy"]
    assert db["update_config"]["order"] == "stop-first"
    assert db["placement"]["constraints"] == ["node.role == manager"]
    assert doc["networks"]["backend"]["internal"] is True
    assert "internal" not in doc["networks"]["frontend"]


def test_secrets_are_external_and_never_in_the_stack_file(project: Path) -> None:
    stack, report = _stack(project)
    text = yaml.safe_dump(stack.document)  # type: ignore[attr-defined]
    env = (project / ".env").read_text()
    for line in env.splitlines():
        if "PASSWORD=" in line and not line.startswith("#"):
            assert line.split("=", 1)[1] not in text
    secrets = stack.document["secrets"]  # type: ignore[attr-defined]
    assert secrets["redis-password"] == {"external": True, "name": "shop-scaled_redis-password"}
    app = stack.document["services"]["app"]  # type: ignore[attr-defined]
    assert app["entrypoint"][:2] == ["/bin/sh", "-c"]
    assert "$$(cat /run/secrets/redis-password)" in app["entrypoint"][2]
    assert app["command"] == ["docker-entrypoint.sh", "serve"]
    assert "APP_REDIS_PASSWORD" not in app["environment"]


def test_a_missing_image_is_reported_not_guessed(project: Path) -> None:
    _, report = _stack(project, lambda image: None)
    lines = [x for x in report.lines if x.status == "unmapped" and "environment." in x.setting]
    assert lines and all("not present" in x.note for x in lines)


def test_report_names_what_swarm_cannot_do(project: Path) -> None:
    _, report = _stack(project)
    settings = {(x.workload, x.setting) for x in report.by_status("unmapped")}
    assert ("app", "depends_on") in settings
    assert any(x.setting == "build" and "does not build" in x.note for x in report.lines)


def test_haproxy_servers_become_a_template_filled_from_dns(project: Path) -> None:
    stack, _ = _stack(project)
    config = stack.configs["lb-haproxy-cfg"]  # type: ignore[attr-defined]
    assert "server-template app- 1-10 app:8000" in config
    assert "server app-1 " not in config


def test_export_writes_the_stack_scripts_and_image_list(project: Path) -> None:
    export = build_export("swarm", project, image_config=_entrypoints)
    assert {"stack.yaml", "create-secrets.sh", "deploy.sh", "images.txt"} <= set(export.files)
    assert "shop-scaled-app:latest" in export.files["images.txt"]
    assert "docker stack deploy" in export.files["deploy.sh"]


def _desired(project: Path, **options: list[str]) -> object:
    stack, _ = _stack(project)
    values = {k: "x" for k in stack.secrets}  # type: ignore[attr-defined]
    return desired_state(stack, values, **options)  # type: ignore[arg-type]


def test_plan_creates_everything_on_an_empty_swarm(project: Path) -> None:
    desired = _desired(project)
    actions = plan(desired, Observed())  # type: ignore[arg-type]
    assert {a.verb for a in actions} == {"create"}
    kinds = [a.kind for a in actions]
    assert kinds.index("network") < kinds.index("secret") < kinds.index("config") < kinds.index("service")
    app = next(s for s in desired.services if s.short == "app")  # type: ignore[attr-defined]
    assert app.spec["Labels"]["com.docker.stack.namespace"] == "shop-scaled"
    assert app.spec["EndpointSpec"]["Mode"] == "dnsrr"


def _observed(desired: object) -> Observed:
    observed = Observed()
    for s in desired.services:  # type: ignore[attr-defined]
        observed.services[s.name] = ObservedService("id", s.name, 1, s.spec_hash, True)
    observed.networks = {n.name for n in desired.networks}  # type: ignore[attr-defined]
    observed.secrets = {n.name for n in desired.secrets}  # type: ignore[attr-defined]
    observed.configs = {n.name for n in desired.configs}  # type: ignore[attr-defined]
    return observed


def test_plan_keeps_what_is_up_to_date_and_rolls_only_what_changed(project: Path) -> None:
    observed = _observed(_desired(project))
    assert {a.verb for a in plan(_desired(project), observed)} == {"keep"}  # type: ignore[arg-type]
    scaled = _desired(project, replicas=["app=5"], images=["app=shop-scaled-app:v2"])
    changed = [a for a in plan(scaled, observed) if a.verb != "keep"]  # type: ignore[arg-type]
    assert [(a.verb, a.name) for a in changed] == [("update", "shop-scaled_app")]
    app = next(s for s in scaled.services if s.short == "app")  # type: ignore[attr-defined]
    assert app.spec["Mode"]["Replicated"]["Replicas"] == 5
    assert app.spec["TaskTemplate"]["ContainerSpec"]["Image"] == "shop-scaled-app:v2"
    assert app.spec["Labels"][SPEC_HASH_LABEL] == app.spec_hash


def test_plan_removes_leftovers_and_old_configs(project: Path) -> None:
    observed = _observed(_desired(project))
    observed.services["shop-scaled_gone"] = ObservedService("id", "shop-scaled_gone", 1, "h")
    observed.configs.add("shop-scaled_lb-haproxy-cfg-0000000000")
    removed = {(a.kind, a.name) for a in plan(_desired(project), observed)  # type: ignore[arg-type]
               if a.verb == "remove"}
    assert removed == {("service", "shop-scaled_gone"),
                       ("config", "shop-scaled_lb-haproxy-cfg-0000000000")}


def test_removal_and_rollback_plans(project: Path) -> None:
    observed = _observed(_desired(project))
    order = [a.kind for a in removal(observed)]
    assert order == sorted(order, key=["service", "network", "config", "secret"].index)
    assert [a.verb for a in rollback(observed, ["app"], "shop-scaled")] == ["rollback"]
    with pytest.raises(ArgumentError):
        rollback(observed, ["nope"], "shop-scaled")


def test_bad_overrides_are_clear_errors(project: Path) -> None:
    with pytest.raises(ArgumentError, match="no service"):
        _desired(project, replicas=["nope=2"])
    with pytest.raises(ArgumentError, match="SERVICE=VALUE"):
        _desired(project, images=["app"])
