"""`--live`: containers' state and health colour the nodes (fake states; no Docker mocks)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archgen.diagram import ServiceState, build_diagram, render_diagram, status_of
from archgen.diagram._live import live_states
from archgen.diagram._tree import build_tree
from archgen.errors import DockerUnavailableError
from archgen.runtime.engine import Engine
from archgen.runtime.model import LABEL_PROJECT, LABEL_SERVICE
from tests.diagram.conftest import example

RUNNING = {"state": "running", "health": "healthy"}


@pytest.mark.parametrize(("state", "expected"), [
    (ServiceState("running", "healthy"), "up"),
    (ServiceState("running"), "up"),  # no healthcheck: running is as good as it gets
    (ServiceState("running", "starting"), "starting"),
    (ServiceState("restarting"), "starting"),
    (ServiceState("created"), "starting"),
    (ServiceState("running", "unhealthy"), "down"),
    (ServiceState("exited", exit_code=1), "down"),
    (ServiceState("dead"), "down"),
    ({"state": "running", "health": "healthy"}, "up"),
    (("running", "starting"), "starting"),
    ([], "absent"),
    ([ServiceState("running", "healthy"), ServiceState("exited", exit_code=137)], "down"),
])
def test_states_classify_into_four_colours(state: object, expected: str) -> None:
    assert status_of(state) == expected


def test_a_one_shot_job_that_exited_0_is_up() -> None:
    assert status_of(ServiceState("exited", exit_code=0), job=True) == "up"
    assert status_of(ServiceState("exited", exit_code=0)) == "down"


def test_nodes_take_the_state_of_their_containers() -> None:
    states = {
        "lb": RUNNING,
        # The replicas are workloads of their own (app-1 …): each maps to the node `app`.
        "app-1": RUNNING, "app-2": {"state": "running", "health": "starting"}, "app-3": RUNNING,
        "db-1": RUNNING, "db-2": RUNNING, "db-3": {"state": "exited", "exit_code": 137},
        "db-init": {"state": "exited", "exit_code": 0},
        "strangers": RUNNING,
    }
    diagram = build_diagram(example("scaled"), states=states)
    status = {n.id: n.status for n in diagram.nodes}
    assert status == {"ext:users": None, "lb": "up", "app": "starting", "db": "down",
                      "db-init": "up", "redis": "absent", "sentinel": "absent"}
    assert diagram.live


def test_mermaid_colours_live_nodes_with_class_defs() -> None:
    mermaid = str(render_diagram(example("mvc"), "mermaid",
                                 states={"proxy": RUNNING, "app": ServiceState("running", "starting"),
                                         "db": ServiceState("running", "unhealthy")}))
    assert "classDef up fill:#a5d6a7,stroke:#1b5e20" in mermaid
    assert "classDef starting fill:#fff59d" in mermaid
    assert "classDef down fill:#ef9a9a" in mermaid
    assert "classDef absent fill:#e0e0e0" in mermaid
    assert "  class proxy up\n" in mermaid and "  class app starting\n" in mermaid
    assert "  class db down\n" in mermaid and "  class redis absent\n" in mermaid
    assert "classDef data" not in mermaid  # live colours replace the tier colours


def test_tree_shows_each_state_in_words_and_in_colour() -> None:
    architecture = example("mvc")
    states = {"proxy": RUNNING, "db": {"state": "exited", "exit_code": 1}}
    text = str(render_diagram(architecture, "tree", states=states))
    assert "● proxy [healthy]" in text and "● db [failing]" in text
    assert "● app [absent]" in text
    tree = build_tree(build_diagram(architecture, states=states))
    styles = {str(child.label).split()[1]: child.label.spans[0].style  # type: ignore[union-attr]
              for group in tree.children for child in group.children
              if str(child.label).startswith("●")}
    assert styles == {"proxy": "green", "app": "bright_black", "db": "red", "redis": "bright_black"}


def test_json_and_dot_carry_the_live_status() -> None:
    states = {"app": RUNNING}
    data = json.loads(str(render_diagram(example("mvc"), "json", states=states)))
    assert {n["id"]: n.get("status") for n in data["nodes"]}["app"] == "up"
    assert '"app" [fillcolor="#a5d6a7"' in str(render_diagram(example("mvc"), "dot", states=states))


class FakeApi:
    """A stand-in for docker.APIClient: answers `containers()` from a list."""

    api_version = "1.41"

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        self.entries = entries
        self.calls: list[dict[str, Any]] = []

    def containers(self, **options: Any) -> list[dict[str, Any]]:
        self.calls.append(options)
        return self.entries


def _entry(service: str, state: str, status: str, project: str = "shop") -> dict[str, Any]:
    return {"Id": f"{project}-{service}", "State": state, "Status": status,
            "Labels": {LABEL_PROJECT: project, LABEL_SERVICE: service}}


def test_live_states_read_labels_state_and_health_in_one_call() -> None:
    api = FakeApi([
        _entry("proxy", "running", "Up 2 minutes (healthy)"),
        _entry("app", "running", "Up 3 seconds (health: starting)"),
        _entry("db", "exited", "Exited (1) 5 seconds ago"),
        _entry("redis", "running", "Up 2 minutes (unhealthy)"),
        _entry("other", "running", "Up", project="elsewhere"),
    ])
    states = live_states("shop", lambda: Engine(api))
    assert api.calls == [{"all": True, "filters": {"label": f"{LABEL_PROJECT}=shop"}}]
    assert states == {
        "app": [ServiceState("running", "starting")],
        "db": [ServiceState("exited", None, 1)],
        "proxy": [ServiceState("running", "healthy")],
        "redis": [ServiceState("running", "unhealthy")],
    }


def test_an_unreachable_engine_is_a_docker_unavailable_error() -> None:
    import requests

    class Refusing:
        api_version = "1.41"

        def containers(self, **options: Any) -> list[dict[str, Any]]:
            raise requests.exceptions.ConnectionError("Connection refused")

    with pytest.raises(DockerUnavailableError, match="cannot reach the Docker engine"):
        live_states("shop", lambda: Engine(Refusing()))


def test_services_only_compose_knows_get_their_state_too() -> None:
    from archgen.diagram import parse_compose

    compose = parse_compose({"services": {"mailpit": {"image": "axllent/mailpit",
                                                       "ports": ["8025:8025"]}}})
    diagram = build_diagram(example("mvc"), compose=compose, states={"mailpit": RUNNING})
    assert {n.id: n.status for n in diagram.nodes}["svc:mailpit"] == "up"
