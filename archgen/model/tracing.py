"""Jaeger added to a resolved architecture: every app or service sends its traces to it.

`observability: [jaeger]` adds one workload (`jaeger`, the all-in-one with its built-in
in-memory storage), its graph node and an OTLP edge from every app node. Each app
workload gains `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP over HTTP, port 4318, reached on the
project's network only) and `OTEL_SERVICE_NAME` (its node: `app`, or the service's
name). An Envoy edge makes its own span of every request too (OTLP/gRPC, `edge.tracing`),
the parent of the app's server span; the other edges only pass `traceparent` through. The
UI and its API are published on 127.0.0.1 only, at `ui_ports.jaeger`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen.catalog import CATALOG
from archgen.model import uis
from archgen.model.common import hardened, relabel_edge
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.observability import networks_reaching
from archgen.model.uis import UI_BIND, add_ui
from archgen.model.workload import PublishedPort, Workload

JAEGER = "jaeger"
OTLP_HTTP = "otlp-http"
OTLP_GRPC = "otlp-grpc"
# Edge kinds whose image has an OpenTelemetry tracer (nginx, httpd and haproxy here have no
# OpenTelemetry module: they pass `traceparent` through and make no span).
SPAN_MAKING_EDGES = ("envoy",)


def with_jaeger(architecture: Architecture, spec: dict[str, Any]) -> Architecture:
    """`architecture` with Jaeger, and every app workload exporting its traces to it."""
    entry = CATALOG[JAEGER]
    ui_port = uis.ui_port(spec, JAEGER)
    otlp_port = entry.ports[OTLP_HTTP]
    endpoint = f"http://{JAEGER}:{otlp_port}"
    apps = [w for w in architecture.workloads if w.kind == "python" and not w.job]
    nodes_traced = sorted({w.node for w in apps})
    jaeger: dict[str, Any] = {"service": JAEGER, "image": entry.image, "port": entry.ports["ui"],
              "ui_port": ui_port, "bind": UI_BIND, "url": f"http://{UI_BIND}:{ui_port}",
              "otlp_endpoint": endpoint, "services": nodes_traced}
    edge: dict[str, Any] | None = architecture.context.get("edge")
    jaeger["edge"] = _edge_spans(edge)
    architecture.context["observability"]["jaeger"] = jaeger
    add_ui(architecture, "Jaeger", JAEGER, ui_port, JAEGER,
           "traces (search by service)")
    workloads = [_traced(w, endpoint) if w in apps else w for w in architecture.workloads]
    senders = [w.name for w in apps]
    extra_edges: list[Edge] = []
    if edge is not None and jaeger["edge"]["spans"]:
        # The edge's config gains its tracer: its label must change with it.
        workloads = [relabel_edge(w, edge) if w.name == edge["service"] else w
                     for w in workloads]
        senders.append(str(edge["service"]))
        extra_edges.append(Edge(str(edge["service"]), JAEGER, "OTLP", edge["tracing"]["port"]))
    networks = networks_reaching(senders, tuple(workloads))
    workloads.append(_jaeger_workload(jaeger, networks))
    nodes = (*architecture.nodes,
             Node(JAEGER, JAEGER, "tracing", "platform", JAEGER, entry.image,
                  (Port("http", entry.ports["ui"], ui_port, UI_BIND),)))
    edges = (*architecture.edges,
             *(Edge(node, JAEGER, "OTLP", otlp_port) for node in nodes_traced), *extra_edges)
    return replace(architecture, nodes=nodes, edges=edges, workloads=tuple(workloads))


def _edge_spans(edge: dict[str, Any] | None) -> dict[str, Any]:
    """Whether the edge makes its own spans, and the sentence the README says it with.

    An Envoy edge gets `edge.tracing`, what its config's OpenTelemetry tracer reads: its
    service name in Jaeger (its compose service), Jaeger's OTLP/gRPC host and port, and
    the name of the cluster that reaches it (DNS labels have no `_`: no service clashes).
    """
    if edge is None:
        return {"spans": False, "service": None, "kind": None, "how": ""}
    service, kind, label = str(edge["service"]), str(edge["kind"]), str(edge["label"])
    if kind not in SPAN_MAKING_EDGES:
        how = (f"The {label} ({kind}) has no OpenTelemetry module here: it makes no span and "
               "passes `traceparent` through unchanged (only an Envoy edge makes its own spans).")
        return {"spans": False, "service": service, "kind": kind, "how": how}
    port = CATALOG[JAEGER].ports[OTLP_GRPC]
    edge["tracing"] = {"service_name": service, "host": JAEGER, "port": port,
                       "cluster": "otlp_jaeger", "sampling_percent": 100}
    how = (f"The {label} (Envoy) makes its own span of every request too, as service "
           f"`{service}` (OTLP/gRPC to `{JAEGER}:{port}`): it continues a caller's "
           "`traceparent`, and its span is the parent of the server span behind it.")
    return {"spans": True, "service": service, "kind": kind, "how": how}


def _traced(workload: Workload, endpoint: str) -> Workload:
    environment = (*workload.environment, ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
                   ("OTEL_SERVICE_NAME", workload.node))
    return replace(workload, environment=environment)


def _jaeger_workload(jaeger: dict[str, Any], networks: tuple[str, ...]) -> Workload:
    entry = CATALOG[JAEGER]
    assert entry.healthcheck is not None
    return Workload(
        name=JAEGER,
        node=JAEGER,
        kind=JAEGER,
        image=entry.image,
        ports=(PublishedPort("ui", entry.ports["ui"], jaeger["ui_port"], UI_BIND),),
        healthcheck=entry.healthcheck,
        memory="512M",
        security=hardened(JAEGER, entry.user),
        networks=networks,
        comment=("Jaeger (all-in-one, traces in memory: lost when it restarts) receives OTLP "
                 "from every app on the project's network only (4317, 4318: never published); "
                 f"its UI and API are published on {UI_BIND} only.",),
    )
