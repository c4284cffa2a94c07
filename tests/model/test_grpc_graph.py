"""The gRPC part of the graph: a gRPC edge from the edge node to each gRPC app or service where
the edge carries HTTP/2, the app's `grpc` port, published on 127.0.0.1 behind httpd (mvc)."""

from __future__ import annotations

from typing import Any

import pytest

from archgen.model import Architecture, resolve_data
from archgen.model._grpc import GRPC_PORT, HTTP2_EDGES, grpc_graph
from archgen.model.graph import Edge, Port
from archgen.spec import spec_from_data

GRPC = ["rest", "grpc"]


def _model(data: dict[str, Any]) -> Architecture:
    return resolve_data(spec_from_data(data).data)


def _spec(architecture: str, kind: str, api: list[str]) -> dict[str, Any]:
    if architecture == "mvc":
        return {"name": "shop", "architecture": "mvc", "proxy": {"kind": kind},
                "app": {"api": api}}
    if architecture == "scaled":
        return {"name": "shop", "architecture": "scaled", "load_balancer": {"kind": kind},
                "app": {"replicas": 2, "api": api}}
    return {"name": "shop", "architecture": "microservices", "gateway": {"kind": kind},
            "services": [{"name": "orders", "api": api}, {"name": "stock"}]}


EDGE = {"mvc": ("proxy", "app"), "scaled": ("lb", "app"), "microservices": ("gateway", "orders")}


# The gateway of microservices is nginx or envoy (the schema's choice).
CARRYING = [(a, k) for a in EDGE for k in sorted(HTTP2_EDGES)
            if not (a == "microservices" and k == "haproxy")]


@pytest.mark.parametrize(("architecture", "kind"), CARRYING)
def test_an_http2_edge_has_a_grpc_edge_to_the_app(architecture: str, kind: str) -> None:
    model = _model(_spec(architecture, kind, GRPC))
    edge, app = EDGE[architecture]
    grpc = [e for e in model.edges if e.protocol == "gRPC"]
    assert grpc == [Edge(edge, app, "gRPC", GRPC_PORT)]
    assert grpc[0].label == f"gRPC :{GRPC_PORT}"
    assert Port("grpc", GRPC_PORT) in model.node(app).ports
    # The edge's routes and the graph agree: every backend is a node the gRPC edge reaches.
    backends = {b["host"] for b in model.context["edge"]["grpc"]}
    assert {model.node_of(host) for host in backends} == {app}


@pytest.mark.parametrize("architecture", list(EDGE))
def test_without_grpc_the_graph_has_no_grpc_edge_or_port(architecture: str) -> None:
    model = _model(_spec(architecture, "nginx", ["rest"]))
    assert not [e for e in model.edges if e.protocol == "gRPC"]
    assert not [p for n in model.nodes for p in n.ports if p.name == "grpc"]


def test_behind_httpd_the_mvc_app_shows_its_loopback_published_port() -> None:
    model = _model(_spec("mvc", "httpd", GRPC))
    assert not [e for e in model.edges if e.protocol == "gRPC"]
    (port,) = [p for p in model.node("app").ports if p.name == "grpc"]
    assert port == Port("grpc", GRPC_PORT, GRPC_PORT, "127.0.0.1")
    # The node's port is the workload's published port, not a second account of it.
    (published,) = [p for p in model.workload("app").ports if p.name == "grpc"]
    assert (published.container, published.published, published.bind) == (
        port.container, port.published, port.bind)


def test_only_the_grpc_services_of_a_gateway_get_a_grpc_edge() -> None:
    model = _model({"name": "shop", "architecture": "microservices", "gateway": {"kind": "envoy"},
                    "services": [{"name": "a", "api": GRPC}, {"name": "b"},
                                 {"name": "c", "api": ["grpc"]}]})
    assert {(e.source, e.target) for e in model.edges if e.protocol == "gRPC"} == {
        ("gateway", "a"), ("gateway", "c")}
    assert [p.name for p in model.node("b").ports] == ["http"]


def test_grpc_graph_skips_apps_without_grpc() -> None:
    ports, edges = grpc_graph("gw", "nginx", {"a": {"port": GRPC_PORT}, "b": None})
    assert ports == {"a": (Port("grpc", GRPC_PORT),)}
    assert edges == (Edge("gw", "a", "gRPC", GRPC_PORT),)
