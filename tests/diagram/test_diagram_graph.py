"""The diagram graph: users, typed nodes, replicas, labelled edges, levels, groups, compose facts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archgen.diagram import build_diagram, parse_compose, render_diagram
from archgen.diagram._compose import PublishedPort
from archgen.errors import ArgumentError
from tests.diagram.conftest import example, from_data


def _edges(diagram: Any) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in diagram.edges}


def _json(architecture: Any, **options: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(str(render_diagram(architecture, "json", **options)))
    return data


def test_users_reach_the_edge_node_through_its_published_ports() -> None:
    diagram = build_diagram(example("mvc"))
    assert ("ext:users", "proxy", "HTTPS :8443") in _edges(diagram)
    assert ("ext:users", "proxy", "HTTP :8080") in _edges(diagram)
    users = [e.label for e in diagram.edges if e.source == "ext:users"]
    assert users == ["HTTPS :8443", "HTTP :8080"]  # the port to open comes first


def test_a_service_named_users_does_not_collide_with_the_users_actor() -> None:
    architecture = from_data({"name": "m", "architecture": "microservices",
                              "services": [{"name": "users"}, {"name": "end"}]})
    diagram = build_diagram(architecture)
    ids = [n.id for n in diagram.nodes]
    assert "users" in ids and "ext:users" in ids and len(ids) == len(set(ids))
    mermaid = str(render_diagram(architecture, "mermaid"))
    assert '  ext_users(("users"))' in mermaid
    assert '    users("users<br/>service")' in mermaid
    assert "end_2(" in mermaid  # `end` closes a Mermaid subgraph; the id avoids it
    assert '    end("' not in mermaid


@pytest.mark.parametrize(("name", "expected"), [
    ("mvc", {"proxy": "proxy", "app": "app", "db": "database", "redis": "cache"}),
    ("scaled", {"lb": "load_balancer", "app": "app", "db": "database", "db-init": "job",
                "redis": "cache", "sentinel": "sentinel"}),
    ("microservices", {"gateway": "gateway", "orders": "service", "orders-db": "database",
                       "bus": "bus", "sagas": "service", "sagas-db": "database"}),
])
def test_nodes_are_typed(name: str, expected: dict[str, str]) -> None:
    types = {n.id: n.type for n in build_diagram(example(name)).nodes}
    assert {k: types[k] for k in expected} == expected
    assert types["ext:users"] == "actor"


def test_replicas_and_replica_sets_show() -> None:
    nodes = {n.id: n for n in build_diagram(example("scaled")).nodes}
    assert nodes["app"].label == "app ×3" and nodes["app"].replicas == 3
    assert nodes["db"].label == "mongodb replica set ×3"
    assert nodes["redis"].subtitle == "cache · sentinel"
    assert nodes["db-init"].subtitle == "one-shot job"


def test_edges_carry_protocol_and_port() -> None:
    labels = {e.label for e in build_diagram(example("microservices")).edges}
    assert {"HTTPS :8443", "HTTP :8000", "MongoDB :27017", "PostgreSQL :5432", "MySQL :3306",
            "Kafka :9092"} <= labels
    assert {"RESP :6379", "MongoDB :27017"} <= {e.label for e in build_diagram(example("scaled")).edges}
    rabbit = from_data({"name": "m", "architecture": "microservices", "bus": {"kind": "rabbitmq"},
                        "services": [{"name": "a", "database": "redis"}]})
    assert {"AMQP :5672", "RESP :6379"} <= {e.label for e in build_diagram(rabbit).edges}


def test_edges_in_json_have_protocol_port_and_kind() -> None:
    data = _json(example("mvc"))
    assert data["schema"] == "archgen.diagram/1"
    edge = next(e for e in data["edges"] if e["target"] == "db")
    assert edge == {"source": "app", "target": "db", "label": "MongoDB :27017",
                    "protocol": "MongoDB", "port": 27017, "kind": "flow"}
    node = next(n for n in data["nodes"] if n["id"] == "proxy")
    assert node["ports"][1] == {"name": "https", "container": 8443, "published": 8443,
                                "bind": "127.0.0.1"}
    assert "status" not in node


def test_nodes_are_grouped_by_tier_in_tier_order() -> None:
    diagram = build_diagram(example("microservices"))
    assert [c.label for c in diagram.clusters] == ["edge", "application", "data", "platform"]
    platform = next(c for c in diagram.clusters if c.label == "platform")
    assert platform.members == ("bus",)
    assert [n.id for n in diagram.unclustered()] == ["ext:users"]


def test_group_by_none_and_network() -> None:
    assert build_diagram(example("mvc"), group_by="none").clusters == ()
    # Without compose.yaml every service is on compose's default network.
    clusters = build_diagram(example("mvc"), group_by="network").clusters
    assert [c.label for c in clusters] == ["network: default"]


def test_context_level_shows_users_the_system_and_its_published_ports() -> None:
    diagram = build_diagram(example("scaled"), level="context")
    assert [n.id for n in diagram.nodes] == ["ext:users", "sys:shop-scaled"]
    assert _edges(diagram) == {("ext:users", "sys:shop-scaled", "HTTPS :8443"),
                               ("ext:users", "sys:shop-scaled", "HTTP :8080")}
    assert diagram.clusters == ()


def test_deployment_level_adds_volumes_and_bound_ports() -> None:
    diagram = build_diagram(example("mvc"), level="deployment")
    nodes = {n.id: n for n in diagram.nodes}
    assert nodes["vol:db-data"].subtitle == "volume · /data/db"
    assert nodes["vol:db-data"].cluster == "tier:data"  # beside the database that mounts it
    assert ("db", "vol:db-data", "") in _edges(diagram)
    assert ("ext:users", "proxy", "HTTPS 127.0.0.1:8443->8443") in _edges(diagram)


def test_unknown_level_format_and_grouping_are_bad_input() -> None:
    with pytest.raises(ArgumentError, match="unknown level 'deploy'") as caught:
        render_diagram(example("mvc"), "mermaid", level="deploy")
    assert caught.value.exit_code == 2 and "deployment" in str(caught.value.hint)
    with pytest.raises(ArgumentError, match="unknown format 'svgz'"):
        render_diagram(example("mvc"), "svgz")
    with pytest.raises(ArgumentError, match="unknown grouping"):
        render_diagram(example("mvc"), "mermaid", group_by="team")


COMPOSE: dict[str, Any] = {
    "name": "shop",
    "services": {
        "proxy": {"image": "nginx", "ports": ["127.0.0.1:${HTTP_PORT:-8080}:8080",
                                              "127.0.0.1:9443:8443"],
                  "networks": ["frontend"]},
        "app": {"image": "shop-app", "networks": {"frontend": {}, "backend": {"aliases": ["api"]}}},
        "db": {"image": "postgres",
               "volumes": ["db-data:/var/lib/postgresql/data", "./init:/docker-entrypoint-initdb.d:ro"],
               "networks": ["backend"]},
        "redis": {"image": "redis",
                  "volumes": [{"type": "volume", "source": "cache", "target": "/data"}],
                  "networks": ["backend"]},
        "mailpit": {"image": "axllent/mailpit", "ports": [{"target": 8025, "published": 8025}]},
    },
    "volumes": {"db-data": {}, "cache": {}},
    "networks": {"frontend": {}, "backend": {}},
}


def test_compose_ports_are_read_by_the_runtime_loader_in_every_syntax() -> None:
    info = parse_compose(COMPOSE)
    assert info.name == "shop"
    # Interpolated as `archgen up` would (no .env here: the default applies).
    assert info.ports["proxy"] == (PublishedPort(8080, 8080, "127.0.0.1"),
                                   PublishedPort(8443, 9443, "127.0.0.1"))
    assert info.ports["mailpit"] == (PublishedPort(8025, 8025),)
    more = parse_compose({"services": {"s": {"image": "s",
                                             "ports": ["8000", "9000:80/udp", "[::1]:5432:5432"]}}})
    assert more.ports["s"] == (PublishedPort(8000), PublishedPort(80, 9000, protocol="udp"),
                               PublishedPort(5432, 5432, "::1"))
    assert info.networks["app"] == ("backend", "frontend")
    assert info.networks["mailpit"] == ("default",)
    assert [m.volume for m in info.mounts["db"]] == ["db-data"]  # bind mounts are not volumes


def test_compose_published_ports_and_networks_annotate_the_graph() -> None:
    architecture = example("mvc")
    diagram = build_diagram(architecture, compose=parse_compose(COMPOSE))
    # A hand-edited port in compose.yaml wins over the spec's.
    assert ("ext:users", "proxy", "HTTPS :9443") in _edges(diagram)
    assert ("ext:users", "proxy", "HTTP :8080") in _edges(diagram)
    # A service only compose knows, published to the host, is drawn as a container.
    assert ("ext:users", "svc:mailpit", "TCP :8025") in _edges(diagram)
    by_network = build_diagram(architecture, group_by="network", compose=parse_compose(COMPOSE))
    labels = {c.label: c.members for c in by_network.clusters}
    assert labels["networks: backend + frontend"] == ("app",)
    assert labels["network: backend"] == ("db", "redis")
    deployment = build_diagram(architecture, level="deployment", compose=parse_compose(COMPOSE))
    assert {"net:frontend", "net:backend", "vol:cache", "vol:db-data"} <= {n.id for n in deployment.nodes}
    assert ("app", "net:backend", "") in _edges(deployment)


@pytest.mark.parametrize(("name", "service", "expected"), [
    ("mvc", "db", "db"), ("mvc", "app-test", "app"), ("scaled", "db-2", "db"),
    ("scaled", "redis-1", "redis"), ("scaled", "sentinel-3", "sentinel"),
    ("scaled", "db-init", "db-init"), ("scaled", "app-3", "app"), ("mvc", "mailpit", None),
    ("microservices", "orders-db", "orders-db"),
])
def test_compose_services_map_to_the_nodes_whose_workloads_they_are(
        name: str, service: str, expected: str | None) -> None:
    assert example(name).node_of(service) == expected
