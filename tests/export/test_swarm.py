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


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from archgen.render import Renderer

    root = tmp_path_factory.mktemp("swarm") / "project"
    Renderer(load_spec(EXAMPLES / "scaled.yaml"), root).write()
    return root


def _stack(project: Path) -> tuple[object, Report]:
    report = Report("swarm")
    architecture = resolve(load_spec(project / "archgen.yaml"))
    return build_stack(architecture, project, report), report


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


def test_secrets_are_swarm_secrets_at_the_compose_paths(project: Path) -> None:
    stack, report = _stack(project)
    doc = stack.document  # type: ignore[attr-defined]
    text = yaml.safe_dump(doc)
    values = {p.name: p.read_text() for p in (project / "secrets").iterdir()}
    assert values and not any(v.strip() in text for v in values.values())
    assert doc["secrets"]["redis_password"] == {"external": True,
                                                "name": "shop-scaled_redis_password"}
    app = doc["services"]["app"]
    # No prologue: the image reads the file its *_FILE variable names, as under compose.
    assert "entrypoint" not in app or app["entrypoint"][:2] != ["/bin/sh", "-c"]
    assert app["environment"]["APP_REDIS_PASSWORD_FILE"] == "/run/secrets/redis_password"
    assert {"source": "redis_password", "target": "redis_password", "mode": 0o444} in app["secrets"]
    for service in doc["services"].values():
        for key, value in service.get("environment", {}).items():
            assert not key.endswith("PASSWORD"), key
            if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
                name = str(value).rsplit("/", 1)[1]
                assert name in {s["target"] for s in service["secrets"]}
    # Every swarm secret comes from the project's private files: secrets/ (and the TLS pair).
    assert stack.secrets["redis_password"] == "secrets/redis_password"  # type: ignore[attr-defined]
    assert all(not line.setting.startswith("environment.") for line in report.by_status("unmapped"))


def test_create_secrets_reads_the_secret_files_not_env(project: Path) -> None:
    script = build_export("swarm", project).files["create-secrets.sh"]
    assert 'create shop-scaled_redis_password < "$project/secrets/redis_password"' in script
    assert ".env" not in script.split("set -eu", 1)[1]


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
    export = build_export("swarm", project)
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


def test_a_missing_secret_file_is_a_clear_error(project: Path) -> None:
    stack, _ = _stack(project)
    with pytest.raises(ArgumentError, match=r"has no value: \S+ is missing"):
        desired_state(stack, {}, replicas=[])  # type: ignore[arg-type]


def test_bad_overrides_are_clear_errors(project: Path) -> None:
    with pytest.raises(ArgumentError, match="no service"):
        _desired(project, replicas=["nope=2"])
    with pytest.raises(ArgumentError, match="SERVICE=VALUE"):
        _desired(project, images=["app"])
