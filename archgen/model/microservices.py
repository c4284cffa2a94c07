"""The microservices architecture: a gateway, services owning their databases, a bus, sagas."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen import __version__
from archgen.catalog import CATALOG
from archgen.model._grpc import grpc_backends, grpc_context, grpc_graph
from archgen.model._services import (
    ORCHESTRATOR,
    bus_workload,
    database_context,
    service_context,
    service_workloads,
)
from archgen.model.common import (
    APP_PORT,
    BACKEND,
    DEFAULTS,
    FRONTEND,
    catalog_ports,
    edge_block,
    edge_ports,
    edge_workload,
    merged,
    seconds,
)
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.uis import UI_BIND, ui_entry, ui_port
from archgen.model.workload import Workload

PARTS = (("compose", "."), ("edge", "."), ("delivery", "."))


def _catalog_node(node_id: str, kind: str, node_type: str, tier: str, label: str) -> Node:
    entry = CATALOG[kind]
    return Node(node_id, kind, node_type, tier, label, entry.image,
                catalog_ports(kind),
                volume=f"{node_id}-data" if entry.data_path else None)


def _bus_node(kind: str, bus: dict[str, Any]) -> Node:
    """The bus's node; RabbitMQ's management port is published on 127.0.0.1 (its UI)."""
    node = _catalog_node("bus", kind, "bus", "platform", kind)
    if "ui_port" not in bus:
        return node
    ports = tuple(replace(p, published=bus["ui_port"], bind=UI_BIND) if p.name == "management"
                  else p for p in node.ports)
    return replace(node, ports=ports)


def service_database_id(service: str) -> str:
    return f"{service}-db"


def _routes(services: list[dict[str, Any]], has_sagas: bool) -> list[dict[str, Any]]:
    """The gateway's routes: `/api/<service>/…` to that service, prefix stripped."""
    names = [s["name"] for s in services] + ([ORCHESTRATOR] if has_sagas else [])
    return [{"name": name, "prefix": f"/api/{name}/", "host": name, "port": APP_PORT,
             # The orchestrator's paths keep their `/sagas/` segment: /api/sagas/x -> /sagas/x.
             "rewrite": "/sagas/" if name == ORCHESTRATOR else "/"} for name in names]


def _events(services: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every event type a service publishes or consumes, with who does which."""
    names: list[str] = []
    for service in services:
        names += [e for e in [*service.get("publishes", []), *service.get("consumes", [])]
                  if e not in names]
    return [{"name": name,
             "publishers": [s["name"] for s in services if name in s.get("publishes", [])],
             "consumers": [s["name"] for s in services if name in s.get("consumes", [])]}
            for name in names]


def _rate_limit(spec: dict[str, Any]) -> dict[str, int] | None:
    cache = spec.get("cache")
    limit = cache.get("rate_limit") if isinstance(cache, dict) else None
    if not isinstance(limit, dict):
        return None
    merged_limit = {**DEFAULTS["cache"]["rate_limit"], **limit}
    requests, window = int(merged_limit["requests"]), seconds(merged_limit["window"])
    # nginx counts in requests per second or minute: the same average, at least 1 a minute.
    return {"requests": requests, "window_seconds": window,
            "per_minute": max(1, round(requests * 60 / window))}


def resolve_microservices(spec: dict[str, Any]) -> Architecture:
    name = spec["name"]
    gateway = merged(spec, "gateway")
    bus = merged(spec, "bus")
    entry = CATALOG[gateway["kind"]]
    bus_entry = CATALOG[bus["kind"]]
    sagas = [{"name": s["name"], "mode": s.get("mode", "orchestration"),
              "steps": [{"service": st["service"], "action": st["action"],
                         "compensate": st.get("compensate")} for st in s["steps"]]}
             for s in spec.get("sagas") or []]
    # A bus when the spec names one or has sagas to carry (kafka unless `bus.kind` says).
    has_bus = bool(spec.get("bus") or sagas)
    bus_context = ({"kind": bus["kind"], "service": "bus", "image": bus_entry.image,
                    "port": bus_entry.main_port} if has_bus else None)
    uis = []
    if bus_context and bus["kind"] == "rabbitmq":
        # The management UI and API, for this machine only: the broker's AMQP port never is.
        bus_context["ui_port"] = ui_port(spec, "rabbitmq")
        uis.append(ui_entry("RabbitMQ management", "bus", bus_context["ui_port"], "rabbitmq",
                            "queues, exchanges and the DLQ (user RABBITMQ_USER in .env, "
                            "password in secrets/rabbitmq_password)"))
    services = [{**DEFAULTS["service"], **raw} for raw in spec["services"]]
    routes = _routes(services, bool(sagas))
    edge = edge_block("gateway", gateway, [{"name": r["name"], "host": r["host"],
                                             "port": r["port"], "weight": 1} for r in routes])
    edge["routes"] = routes
    if backends := grpc_backends(
            [{"service": s["name"], "grpc": grpc_context(name, list(s["api"]), s["name"])}
             for s in services], gateway["kind"]):
        edge["grpc"] = backends  # only when some service has it: other renders stay as they were
    edge["rate_limit"] = _rate_limit(spec)
    nodes: list[Node] = [
        Node("gateway", gateway["kind"], "gateway", "edge", f"{gateway['kind']} API gateway",
             entry.image, edge_ports(gateway, entry)),
        *([_bus_node(bus["kind"], bus_context)] if bus_context else []),
    ]
    edges: list[Edge] = []
    workloads: list[Workload] = [edge_workload(edge, tuple(r["name"] for r in routes))]
    if bus_context:
        workloads.append(bus_workload(name, bus_context))
    networks = [FRONTEND, BACKEND]
    instances: list[tuple[str, str, dict[str, Any]]] = []
    contexts = []
    owners: list[tuple[str, str, dict[str, Any] | None]] = [
        (s["name"], s["database"], s) for s in services]
    if sagas:
        owners.append((ORCHESTRATOR, "postgres", None))
    for owner, engine, service in owners:
        database = database_context(owner, engine)
        app = service_context(owner, service, sagas, spec)
        app["store"] = {"engine": engine, "service": database["service"]}
        contexts.append(app)
        label = "saga orchestrator" if service is None else owner
        grpc_ports, grpc_edges = grpc_graph("gateway", gateway["kind"], {owner: app.get("grpc")})
        nodes.append(Node(owner, "python", "service", "application", label,
                          CATALOG["python"].image, (Port("http", APP_PORT),
                                                    *grpc_ports.get(owner, ()))))
        edges.append(Edge("gateway", owner, "HTTP", APP_PORT))
        edges += grpc_edges
        if has_bus:
            edges.append(Edge(owner, "bus", bus_entry.protocol, bus_entry.main_port))
        if engine != "none":
            db_id = service_database_id(owner)
            nodes.append(_catalog_node(db_id, engine, "cache" if engine == "redis" else
                                       "database", "data", f"{engine} ({owner})"))
            edges.append(Edge(owner, db_id, CATALOG[engine].protocol, CATALOG[engine].main_port))
            networks.append(database["network"])
        for target in (service or {}).get("depends_on") or []:
            edges.append(Edge(owner, target, "HTTP", APP_PORT))
        workloads += service_workloads(name, app, database, bus_context, edge,
                                       (service or {}).get("depends_on") or [])
        instances.append(("app", app["dir"], {"app": app, "database": database}))
        if engine in ("postgres", "mongodb"):
            instances.append(("data", app["dir"], {"database": database}))
    context = {
        "name": name, "architecture": "microservices", "archgen_version": __version__,
        "description": spec.get("description"),
        "edge": edge, "gateway": edge, "bus": bus_context, "uis": uis,
        # The top-level app / database are the first service's (the delivery part's smoke
        # test); each service's own are handed to its instance of the app part.
        "app": contexts[0], "database": instances[0][2]["database"], "cache": None,
        "services": contexts, "sagas": sagas, "events": _events(services),
        "delivery": {"integration_test": None, "spread": False,
                     "tests": [{"name": c["name"], "dir": c["dir"], "service": f"{c['service']}-test"}
                               for c in contexts]},
    }
    return Architecture(name, "microservices", tuple(nodes), tuple(edges), context,
                        tuple(workloads), tuple(networks), PARTS, tuple(instances))
