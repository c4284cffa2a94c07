"""Plan computation against a hand-built engine state (no Docker)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from archgen.errors import EngineError
from archgen.runtime.model import Project, config_hash, resource_hash
from archgen.runtime.plan import (
    EngineState,
    ObservedContainer,
    ObservedResource,
    Options,
    compute_plan,
)
from tests.runtime.helpers import load

IMAGE_ID = "sha256:img1"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "app").mkdir()
    compose: dict[str, Any] = {
        "name": "p",
        "services": {
            "db": {
                "image": "postgres:16",
                "volumes": ["data:/var/lib/postgresql/data"],
                "healthcheck": {"test": "true"},
            },
            "app": {
                "build": "./app",
                "depends_on": {"db": {"condition": "service_healthy"}},
                "deploy": {"replicas": 2},
            },
            "migrate": {"image": "postgres:16", "command": "true", "depends_on": ["db"]},
            "web": {
                "image": "nginx:1",
                "depends_on": {"app": {}, "migrate": {"condition": "service_completed_successfully"}},
            },
        },
        "volumes": {"data": {}},
    }
    return load(tmp_path, compose)


def images() -> dict[str, str]:
    return {"postgres:16": IMAGE_ID, "p-app:latest": "sha256:app1", "nginx:1": "sha256:nginx1"}


def ours(
    project: Project, service: str, number: int = 1, *, state: str = "running", **kw: Any
) -> ObservedContainer:
    svc = project.services[service]
    image = images()[svc.image]
    return ObservedContainer(
        id=kw.pop("id", f"id-{service}-{number}"),
        name=project.container_name(service, number),
        state=state,
        project=project.name,
        service=service,
        number=number,
        config_hash=kw.pop("config_hash", config_hash(svc, image)),
        image_id=kw.pop("image_id", image),
        **kw,
    )


def converged(project: Project) -> EngineState:
    containers = [
        ours(project, "db"),
        ours(project, "app", 1),
        ours(project, "app", 2),
        ours(project, "migrate", state="exited", exit_code=0),
        ours(project, "web"),
    ]
    network = project.networks["default"]
    volume = project.volumes["data"]
    return EngineState(
        containers=containers,
        networks={network.name: ObservedResource(network.name, "p", resource_hash(network))},
        volumes={volume.name: ObservedResource(volume.name, "p", resource_hash(volume))},
        images=images(),
    )


def actions(plan: Any) -> dict[str, list[tuple[str, str]]]:
    return {s: [(step.action, step.name) for step in steps] for s, steps in plan.containers.items()}


def test_empty_engine_creates_everything(project: Project) -> None:
    plan = compute_plan(project, EngineState(images=images()))
    assert plan.order == ["db", "app", "migrate", "web"]
    assert actions(plan) == {
        "db": [("create", "p-db-1")],
        "app": [("create", "p-app-1"), ("create", "p-app-2")],
        "migrate": [("create", "p-migrate-1")],
        "web": [("create", "p-web-1")],
    }
    assert [(r.kind, r.name, r.action) for r in plan.resources] == [
        ("network", "p_default", "create"),
        ("volume", "p_data", "create"),
    ]
    assert plan.images == []
    assert plan.changes


def test_converged_state_is_a_no_op(project: Project) -> None:
    plan = compute_plan(project, converged(project))
    assert not plan.changes
    assert all(step.action == "keep" for steps in plan.containers.values() for step in steps)
    migrate = plan.containers["migrate"][0]
    assert migrate.reason == "completed"  # a finished one-shot job is not run again
    assert "nothing to change" in plan.render()


def test_config_change_recreates_only_that_service(project: Project) -> None:
    state = converged(project)
    project.services["web"] = replace(project.services["web"], environment={"MODE": "new"})
    plan = compute_plan(project, state)
    assert plan.changed_services() == ["web"]
    step = plan.containers["web"][0]
    assert (step.action, step.reason, step.container_id) == ("recreate", "config hash changed", "id-web-1")


def test_image_change_recreates_with_reason(project: Project) -> None:
    state = converged(project)
    state.images["nginx:1"] = "sha256:nginx2"
    plan = compute_plan(project, state)
    assert plan.changed_services() == ["web"]
    assert plan.containers["web"][0].reason == "image changed"


def test_missing_build_image_is_built_and_its_containers_recreated(project: Project) -> None:
    state = converged(project)
    del state.images["p-app:latest"]
    plan = compute_plan(project, state)
    assert [(i.action, i.image, i.services, i.reason) for i in plan.images] == [
        ("build", "p-app:latest", ("app",), "image not present")
    ]
    assert {s.reason for s in plan.containers["app"]} == {"image will change"}


def test_build_flag_rebuilds_without_presuming_a_change(project: Project) -> None:
    plan = compute_plan(project, converged(project), Options(build=True))
    assert [(i.action, i.reason) for i in plan.images] == [("build", "--build")]
    assert plan.changed_services() == []  # converge re-plans with the rebuilt image's ID


def test_pull_policies(project: Project) -> None:
    state = converged(project)
    del state.images["postgres:16"]
    plan = compute_plan(project, state)
    assert [(i.action, i.image, i.services) for i in plan.images] == [
        ("pull", "postgres:16", ("db", "migrate"))
    ]
    with pytest.raises(EngineError, match=r"postgres:16 \(service 'db'\)"):
        compute_plan(project, state, Options(pull="never"))
    always = compute_plan(project, converged(project), Options(pull="always"))
    assert sorted(i.image for i in always.images) == ["nginx:1", "postgres:16"]


def test_scale_down_and_up(project: Project) -> None:
    state = converged(project)
    state.containers.append(ours(project, "app", 3))
    plan = compute_plan(project, state)
    assert actions(plan)["app"] == [("remove", "p-app-3"), ("keep", "p-app-1"), ("keep", "p-app-2")]
    assert plan.containers["app"][0].reason == "scale down to 2"
    project.services["app"] = replace(project.services["app"], replicas=4)
    plan = compute_plan(project, converged(project))
    assert actions(plan)["app"] == [
        ("keep", "p-app-1"),
        ("keep", "p-app-2"),
        ("create", "p-app-3"),
        ("create", "p-app-4"),
    ]


def test_stopped_container_is_started(project: Project) -> None:
    state = converged(project)
    state.containers[0] = ours(project, "db", state="exited", exit_code=137)
    plan = compute_plan(project, state)
    step = plan.containers["db"][0]
    assert (step.action, step.reason) == ("start", "exited (exit 137)")


def test_failed_job_runs_again(project: Project) -> None:
    state = converged(project)
    state.containers[3] = ours(project, "migrate", state="exited", exit_code=1)
    assert plan_action(compute_plan(project, state), "migrate") == "start"


def plan_action(plan: Any, service: str) -> str:
    return str(plan.containers[service][0].action)


def test_force_recreate(project: Project) -> None:
    plan = compute_plan(project, converged(project), Options(force_recreate=True))
    assert {s.action for steps in plan.containers.values() for s in steps} == {"recreate"}


def test_orphans_are_reported_and_removed_on_request(project: Project) -> None:
    state = converged(project)
    state.containers.append(
        ObservedContainer(
            "id-old", "p-old-1", "running", project="p", service="old", number=1, config_hash="x"
        )
    )
    plan = compute_plan(project, state)
    assert [(o.name, o.action) for o in plan.orphans] == [("p-old-1", "orphan")]
    assert not plan.changes
    plan = compute_plan(project, state, Options(remove_orphans=True))
    assert [(o.name, o.action) for o in plan.orphans] == [("p-old-1", "remove")]
    assert plan.changes


def test_inactive_profile_service_is_neither_orphan_nor_touched(tmp_path: Path) -> None:
    project = load(
        tmp_path,
        {
            "name": "p",
            "services": {"web": {"image": "nginx:1"}, "dbg": {"image": "nginx:1", "profiles": ["debug"]}},
        },
    )
    dbg = replace(project.services["dbg"])
    container = ObservedContainer(
        "id-dbg",
        "p-dbg-1",
        "running",
        project="p",
        service="dbg",
        number=1,
        config_hash=config_hash(dbg, "x"),
    )
    plan = compute_plan(project, EngineState(containers=[container], images=images()))
    assert plan.orphans == []
    assert "dbg" not in plan.containers


def test_foreign_same_named_container_is_an_error(project: Project) -> None:
    state = converged(project)
    state.containers = [c for c in state.containers if c.service != "web"]
    state.containers.append(ObservedContainer("id-foreign", "p-web-1", "running"))
    with pytest.raises(EngineError) as caught:
        compute_plan(project, state)
    assert (
        "container 'p-web-1' exists and is not ours (not labelled io.archgen.project)" in caught.value.message
    )
    assert "never reuses or removes" in (caught.value.hint or "")


def test_container_of_another_project_is_an_error(project: Project) -> None:
    state = converged(project)
    state.containers = [c for c in state.containers if c.service != "db"]
    state.containers.append(
        ObservedContainer("id-x", "p-db-1", "running", project="other", service="db", number=1)
    )
    with pytest.raises(EngineError, match="container 'p-db-1' exists and is not ours \\(project 'other'\\)"):
        compute_plan(project, state)


def test_foreign_network_and_volume_are_errors(project: Project) -> None:
    state = converged(project)
    state.networks["p_default"] = ObservedResource("p_default", None)
    state.volumes["p_data"] = ObservedResource("p_data", "someone-else")
    with pytest.raises(EngineError) as caught:
        compute_plan(project, state)
    assert "network 'p_default' exists and is not ours" in caught.value.message
    assert "volume 'p_data' exists and is not ours (project 'someone-else')" in caught.value.message


def test_external_network_must_exist(tmp_path: Path) -> None:
    compose = {
        "name": "p",
        "services": {"web": {"image": "nginx:1", "networks": ["shared"]}},
        "networks": {"shared": {"external": True}},
    }
    project = load(tmp_path, compose)
    with pytest.raises(EngineError, match="external network 'shared' does not exist"):
        compute_plan(project, EngineState(images=images()))
    plan = compute_plan(
        project, EngineState(networks={"shared": ObservedResource("shared")}, images=images())
    )
    assert plan.resources == []


def test_changed_network_config_is_noted(project: Project) -> None:
    state = converged(project)
    state.networks["p_default"] = ObservedResource("p_default", "p", "old-hash")
    plan = compute_plan(project, state)
    assert not plan.changes
    assert plan.notes == ["network p_default changed in compose.yaml; `archgen down` then `up` applies it"]


def test_render_and_dict(project: Project) -> None:
    state = converged(project)
    state.containers.append(ours(project, "app", 3))
    project.services["web"] = replace(project.services["web"], environment={"X": "1"})
    plan = compute_plan(project, state)
    text = plan.render()
    assert text.splitlines()[0] == "plan for project p: changes"
    lines = [line.split() for line in text.splitlines()[1:]]
    assert ["remove", "app", "p-app-3", "(scale", "down", "to", "2)"] in lines
    assert ["recreate", "web", "p-web-1", "(config", "hash", "changed)"] in lines
    data = plan.as_dict()
    assert data["changes"] is True
    assert data["containers"]["web"][0]["action"] == "recreate"  # type: ignore[index]
