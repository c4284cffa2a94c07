"""gRPC in the diagram: the edge's gRPC path to each gRPC app or service, labelled with its
port, in every text format; behind httpd, the app's loopback-published gRPC port instead."""

from __future__ import annotations

import json
from typing import Any

import pytest

from archgen.diagram import build_diagram, render_diagram
from tests.diagram.conftest import from_data

GRPC = ["rest", "grpc"]


def _mvc(kind: str) -> dict[str, Any]:
    return {"name": "shop", "architecture": "mvc", "proxy": {"kind": kind}, "app": {"api": GRPC}}


MICRO = {"name": "shop", "architecture": "microservices", "gateway": {"kind": "envoy"},
         "services": [{"name": "orders", "api": GRPC}, {"name": "stock"}]}


def _flows(data: dict[str, Any]) -> set[tuple[str, str, str | None, int | None]]:
    return {(e["source"], e["target"], e.get("protocol"), e.get("port")) for e in data["edges"]}


@pytest.mark.parametrize("kind", ["nginx", "envoy", "haproxy"])
def test_mermaid_and_json_draw_the_edges_grpc_path_to_the_app(kind: str) -> None:
    architecture = from_data(_mvc(kind))
    mermaid = str(render_diagram(architecture, "mermaid"))
    assert '  proxy -->|"gRPC :50051"| app' in mermaid
    assert '  proxy -->|"HTTP :8000"| app' in mermaid
    flows = _flows(json.loads(str(render_diagram(architecture, "json"))))
    assert ("proxy", "app", "gRPC", 50051) in flows
    for fmt in ("d2", "dot"):
        assert "gRPC :50051" in str(render_diagram(architecture, fmt))


def test_a_gateway_draws_grpc_only_to_the_services_that_serve_it() -> None:
    architecture = from_data(MICRO)
    flows = _flows(json.loads(str(render_diagram(architecture, "json"))))
    assert ("gateway", "orders", "gRPC", 50051) in flows
    assert not [f for f in flows if f[1] == "stock" and f[2] == "gRPC"]
    assert '  gateway -->|"gRPC :50051"| orders' in str(render_diagram(architecture, "mermaid"))


def test_behind_httpd_users_reach_the_apps_published_grpc_port() -> None:
    architecture = from_data(_mvc("httpd"))
    edges = {(e.source, e.target, e.label) for e in build_diagram(architecture).edges}
    assert ("ext:users", "app", "gRPC :50051") in edges
    assert not [e for e in edges if e[0] == "proxy" and "gRPC" in e[2]]
    deployment = str(render_diagram(architecture, "mermaid", level="deployment"))
    assert '  ext_users -->|"gRPC 127.0.0.1:50051->50051"| app' in deployment
    data = json.loads(str(render_diagram(architecture, "json")))
    (app,) = [n for n in data["nodes"] if n["id"] == "app"]
    assert {"name": "grpc", "container": 50051, "published": 50051,
            "bind": "127.0.0.1"} in app["ports"]


def test_without_grpc_nothing_grpc_is_drawn() -> None:
    architecture = from_data({"name": "shop", "architecture": "mvc", "proxy": {"kind": "nginx"}})
    for fmt in ("mermaid", "json", "d2", "dot"):
        assert "grpc" not in str(render_diagram(architecture, fmt)).lower()
