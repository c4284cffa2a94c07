"""The gRPC API style: its package name, port and the edge's view of the gRPC backends."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen.model.graph import Edge, Port
from archgen.model.uis import UI_BIND as LOOPBACK  # where gRPC is published beside httpd
from archgen.model.workload import PublishedPort, Workload

GRPC_PORT = 50051
PROTO = "proto/app.proto"
# Edge kinds that carry HTTP/2 to a backend (gRPC through the edge); others publish the port.
HTTP2_EDGES = frozenset({"nginx", "envoy", "haproxy"})


def grpc_context(project: str, api: list[str], service: str | None = None) -> dict[str, Any] | None:
    """`arch.app.grpc`: None unless `grpc` is among the app's API styles.

    The package is the project's name, and in microservices the service's after it, so the
    gateway routes each `/<package>.` path prefix to one service unambiguously.
    """
    if "grpc" not in api:
        return None
    parts = [project, *([service] if service else [])]
    return {"package": ".".join(part.replace("-", "_") for part in parts), "port": GRPC_PORT,
            "proto": PROTO}


def grpc_backends(apps: list[dict[str, Any]], edge_kind: str) -> list[dict[str, Any]]:
    """What the edge routes: each gRPC package to its app (host = its compose service).

    Empty when the edge cannot carry HTTP/2 to a backend (httpd): see `grpc_published`.
    """
    if edge_kind not in HTTP2_EDGES:
        return []
    return [{"package": app["grpc"]["package"], "host": app["service"], "port": app["grpc"]["port"],
             "name": app["service"]} for app in apps if app.get("grpc")]


def grpc_published(workload: Workload, app: dict[str, Any], edge_kind: str) -> Workload:
    """The app with its gRPC port published on 127.0.0.1 when the edge cannot carry gRPC.

    Apache httpd's mod_proxy_http2 does not proxy gRPC reliably (trailers, long streams):
    behind it, gRPC is reached on this machine only, without TLS, and the README says so.
    """
    grpc = app.get("grpc")
    if not grpc or edge_kind in HTTP2_EDGES:
        return workload
    return replace(workload, ports=(*workload.ports,
                                    PublishedPort("grpc", grpc["port"], grpc["port"], LOOPBACK)))


def grpc_graph(edge: str, edge_kind: str, apps: dict[str, dict[str, Any] | None], *,
               published: bool = False) -> tuple[dict[str, tuple[Port, ...]], tuple[Edge, ...]]:
    """The gRPC part of the graph: each gRPC node's port, and the edge's gRPC edges to them.

    `apps` maps a node id to its `grpc` context (None without gRPC). Where the edge carries
    HTTP/2 it routes to the port (an Edge labelled gRPC); behind httpd the mvc app publishes
    it on 127.0.0.1 (`grpc_published`, `published=True`) and the port says so; elsewhere the
    port stays unpublished.
    """
    carried = edge_kind in HTTP2_EDGES
    ports: dict[str, tuple[Port, ...]] = {}
    edges: list[Edge] = []
    for node, grpc in apps.items():
        if not grpc:
            continue
        port = int(grpc["port"])
        ports[node] = ((Port("grpc", port, port, LOOPBACK),) if published and not carried
                       else (Port("grpc", port),))
        if carried:
            edges.append(Edge(edge, node, "gRPC", port))
    return ports, tuple(edges)

