"""Jaeger added to a resolved architecture: every app or service sends its traces to it.

`observability: [jaeger]` adds one workload (`jaeger`, the all-in-one with its built-in
in-memory storage), its graph node and an OTLP edge from every app node. Each app
workload gains `OTEL_EXPORTER_OTLP_ENDPOINT` (OTLP over HTTP, port 4318, reached on the
project's network only) and `OTEL_SERVICE_NAME` (its node: `app`, or the service's
name). The UI and its API are published on 127.0.0.1 only, at `ui_ports.jaeger`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen.catalog import CATALOG
from archgen.model.common import hardened
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.observability import networks_reaching
from archgen.model.uis import DEFAULT_UI_PORTS, UI_BIND, add_ui
from archgen.model.workload import PublishedPort, Workload

JAEGER = "jaeger"
OTLP_HTTP = "otlp-http"


def with_jaeger(architecture: Architecture, ui_ports: dict[str, Any]) -> Architecture:
    """`architecture` with Jaeger, and every app workload exporting its traces to it."""
    entry = CATALOG[JAEGER]
    ui_port = int(ui_ports.get(JAEGER, DEFAULT_UI_PORTS[JAEGER]))
    otlp_port = entry.ports[OTLP_HTTP]
    endpoint = f"http://{JAEGER}:{otlp_port}"
    apps = [w for w in architecture.workloads if w.kind == "python" and not w.job]
    nodes_traced = sorted({w.node for w in apps})
    jaeger: dict[str, Any] = {"service": JAEGER, "image": entry.image, "port": entry.ports["ui"],
              "ui_port": ui_port, "bind": UI_BIND, "url": f"http://{UI_BIND}:{ui_port}",
              "otlp_endpoint": endpoint, "services": nodes_traced}
    architecture.context["observability"]["jaeger"] = jaeger
    add_ui(architecture, "Jaeger", JAEGER, f"http://{UI_BIND}:{ui_port}", "ui_ports.jaeger",
           "traces (search by service)")
    workloads = [_traced(w, endpoint) if w in apps else w for w in architecture.workloads]
    networks = networks_reaching([w.name for w in apps], tuple(workloads))
    workloads.append(_jaeger_workload(jaeger, networks))
    nodes = (*architecture.nodes,
             Node(JAEGER, JAEGER, "tracing", "platform", JAEGER, entry.image,
                  (Port("http", entry.ports["ui"], ui_port, UI_BIND),)))
    edges = (*architecture.edges,
             *(Edge(node, JAEGER, "OTLP", otlp_port) for node in nodes_traced))
    return replace(architecture, nodes=nodes, edges=edges, workloads=tuple(workloads))


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
