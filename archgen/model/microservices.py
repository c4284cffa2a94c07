"""The microservices architecture: a gateway, services owning their databases, a bus, sagas."""

from __future__ import annotations

from typing import Any

from archgen import __version__
from archgen.catalog import CATALOG
from archgen.model.common import APP_PORT, DEFAULTS, catalog_ports, edge_block, edge_ports, merged
from archgen.model.graph import Architecture, Edge, Node, Port

_TOOL_TYPES = {"prometheus": "metrics", "grafana": "dashboards", "jaeger": "tracing"}


def _catalog_node(node_id: str, kind: str, node_type: str, tier: str, label: str) -> Node:
    entry = CATALOG[kind]
    return Node(node_id, kind, node_type, tier, label, entry.image,
                catalog_ports(kind),
                volume=f"{node_id}-data" if entry.data_path else None)


def service_database_id(service: str) -> str:
    return f"{service}-db"


def resolve_microservices(spec: dict[str, Any]) -> Architecture:
    gateway = merged(spec, "gateway")
    bus = merged(spec, "bus")
    auth = merged(spec, "auth")
    observability = list(spec.get("observability", DEFAULTS["observability"]))
    entry = CATALOG[gateway["kind"]]
    bus_entry = CATALOG[bus["kind"]]
    # A bus when the spec names one or has sagas to carry (kafka unless `bus.kind` says).
    has_bus = bool(spec.get("bus") or spec.get("sagas"))
    nodes: list[Node] = [
        Node("gateway", gateway["kind"], "gateway", "edge", f"{gateway['kind']} API gateway",
             entry.image, edge_ports(gateway, entry)),
        *([_catalog_node("bus", bus["kind"], "bus", "platform", bus["kind"])] if has_bus else []),
        _catalog_node("keycloak", "keycloak", "identity", "platform", "keycloak"),
    ]
    edges: list[Edge] = [Edge("gateway", "keycloak", "OIDC")]
    services = []
    for raw in spec["services"]:
        service = {**DEFAULTS["service"], **raw}
        name = service["name"]
        services.append(service)
        nodes.append(Node(name, "python", "service", "application",
                          f"{name} ×{service['replicas']}" if service["replicas"] > 1 else name,
                          CATALOG["python"].image, (Port("http", APP_PORT),),
                          replicas=service["replicas"]))
        edges.append(Edge("gateway", name, "HTTP", APP_PORT))
        if has_bus:
            edges.append(Edge(name, "bus", bus_entry.protocol, bus_entry.main_port))
        edges.append(Edge(name, "keycloak", "OIDC"))
        if service["database"] != "none":
            db_id = service_database_id(name)
            db_entry = CATALOG[service["database"]]
            nodes.append(_catalog_node(db_id, service["database"], "cache"
                                       if service["database"] == "redis" else "database", "data",
                                       f"{service['database']} ({name})"))
            edges.append(Edge(name, db_id, db_entry.protocol, db_entry.main_port))
        for target in service.get("depends_on") or []:
            edges.append(Edge(name, target, "HTTP", APP_PORT))
        if "jaeger" in observability:
            edges.append(Edge(name, "jaeger", "OTLP", CATALOG["jaeger"].ports["otlp-grpc"]))
        if "prometheus" in observability:
            edges.append(Edge("prometheus", name, "HTTP", APP_PORT))
    for tool in observability:
        nodes.append(_catalog_node(tool, tool, _TOOL_TYPES[tool], "platform", tool))
    if "grafana" in observability and "prometheus" in observability:
        edges.append(Edge("grafana", "prometheus", "HTTP", CATALOG["prometheus"].main_port))
    context = {
        "name": spec["name"], "architecture": "microservices", "archgen_version": __version__,
        "gateway": edge_block("gateway", gateway, []),
        "bus": ({"kind": bus["kind"], "image": bus_entry.image, "port": bus_entry.main_port}
                if has_bus else None),
        "auth": {"provider": auth["provider"], "realm": auth.get("realm") or spec["name"]},
        "services": services, "sagas": list(spec.get("sagas") or []),
        "observability": observability,
    }
    return Architecture(spec["name"], "microservices", tuple(nodes), tuple(edges), context)
