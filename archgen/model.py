"""The resolved architecture: one graph of components and edges, every default applied here.

Templates receive `Architecture.context` (the blueprint's `arch` variable) and the
diagram draws `Architecture.nodes` / `edges`; neither reads the raw YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from archgen import __version__
from archgen.catalog import CATALOG, Component
from archgen.spec import Spec

TIERS = ("edge", "application", "data", "platform")

DEFAULTS: dict[str, Any] = {
    "proxy": {"kind": "nginx", "http_port": 8080, "https_port": 8443, "bind": "127.0.0.1",
              "body_limit_mb": 10, "timeout": 60},
    "load_balancer": {"kind": "haproxy", "algorithm": "round_robin", "http_port": 8080,
                      "https_port": 8443, "bind": "127.0.0.1", "body_limit_mb": 10, "timeout": 60},
    "gateway": {"kind": "envoy", "http_port": 8080, "https_port": 8443, "bind": "127.0.0.1",
                "body_limit_mb": 10, "timeout": 60},
    "app": {"api": ["rest"], "replicas": 3,
            "entities": [{"name": "item", "fields": {"name": "str", "description": "str?"}}]},
    "database": {"engine": "mongodb", "name": "app", "replicas": 3},
    "cache": {"engine": "redis", "rate_limit": {"requests": 100, "window": 60}, "ttl": 300,
              "sentinel": True},
    "bus": {"kind": "kafka"},
    "auth": {"provider": "keycloak"},
    "observability": ["prometheus", "grafana", "jaeger"],
    "service": {"database": "postgres", "api": ["rest"], "replicas": 1},
}

APP_PORT = 8000
CONNECT_TIMEOUT = 5
TLS_DIR = "/etc/archgen/tls"
_CONFIG_FILES = {"nginx": "nginx.conf", "httpd": "httpd.conf", "envoy": "envoy.yaml",
                 "haproxy": "haproxy.cfg"}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}


def seconds(value: int | str) -> int:
    """Turn a spec duration (integer seconds or `500ms`, `60s`, `5m`, `1h`) into whole seconds."""
    if isinstance(value, int):
        return value
    match = _DURATION.match(value)
    if not match:  # the schema already refused it; this guards direct callers
        raise ValueError(f"not a duration: {value!r}")
    return max(1, round(int(match.group(1)) * _UNIT_SECONDS[match.group(2)]))


@dataclass(frozen=True)
class Port:
    """A port a component serves; `published` is the host port when it is published."""

    name: str
    container: int
    published: int | None = None
    bind: str | None = None


@dataclass(frozen=True)
class Node:
    """One component of the architecture (one compose service, possibly replicated)."""

    id: str
    kind: str
    type: str  # proxy | load_balancer | gateway | app | service | database | cache | bus | ...
    tier: str
    label: str
    image: str
    ports: tuple[Port, ...] = ()
    replicas: int = 1
    group: str | None = None  # a replica set or sentinel group the node belongs to
    volume: str | None = None


@dataclass(frozen=True)
class Edge:
    """A connection: `source` talks `protocol` to `target` on `port`."""

    source: str
    target: str
    protocol: str
    port: int | None = None

    @property
    def label(self) -> str:
        return f"{self.protocol} :{self.port}" if self.port else self.protocol


@dataclass(frozen=True)
class Architecture:
    """The resolved graph plus the data handed to the blueprint."""

    name: str
    architecture: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    context: dict[str, Any] = field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


def _merged(spec: dict[str, Any], key: str) -> dict[str, Any]:
    block = spec.get(key)
    result = dict(DEFAULTS[key])
    if isinstance(block, dict):
        result.update(block)
    return result


def _snake(name: str) -> str:
    return name.replace("-", "_")


_SAMPLES: dict[str, Any] = {"str": "example", "int": 1, "float": 1.5, "bool": True,
                            "datetime": "2024-01-01T00:00:00Z", "list[str]": ["a", "b"],
                            "list[int]": [1, 2], "list[float]": [1.5, 2.5]}


def _entity(raw: dict[str, Any]) -> dict[str, Any]:
    name = _snake(raw["name"])
    fields = []
    for field_name, type_text in raw["fields"].items():
        required = not type_text.endswith("?")
        fields.append({"name": field_name, "type": type_text.rstrip("?"), "required": required})
    plural = raw.get("plural") or raw["name"] + "s"
    return {
        "name": name,
        "plural": _snake(plural),
        "path": _snake(plural),
        "class_name": "".join(part.capitalize() for part in name.split("_")),
        "fields": fields,
        "sample": {f["name"]: _SAMPLES[f["type"]] for f in fields},
    }


def _edge_block(kind_key: str, block: dict[str, Any], service: str,
                upstream: dict[str, Any]) -> dict[str, Any]:
    entry = CATALOG[block["kind"]]
    timeout = seconds(block["timeout"])
    return {
        "kind": block["kind"],
        "role": kind_key,
        "service": service,
        "image": entry.image,
        "bind": block["bind"],
        "http_port": block["http_port"],
        "https_port": block["https_port"],
        "listen_http": entry.ports["http"],
        "listen_https": entry.ports["https"],
        "admin_port": entry.ports.get("admin"),
        "config_file": _CONFIG_FILES[block["kind"]],
        "config_path": entry.config_path,
        "tls_cert_path": f"{TLS_DIR}/cert.pem",
        "tls_key_path": f"{TLS_DIR}/key.pem",
        "body_limit_mb": block["body_limit_mb"],
        "timeouts": {"connect": CONNECT_TIMEOUT, "read": timeout, "send": timeout},
        "upstream": upstream,
        "healthcheck": _healthcheck(block["kind"]),
    }


def _healthcheck(kind: str) -> dict[str, object] | None:
    check = CATALOG[kind].healthcheck
    return check.as_compose() if check else None


def _published(block: dict[str, Any], entry: Component) -> tuple[Port, ...]:
    return (
        Port("http", entry.ports["http"], block["http_port"], block["bind"]),
        Port("https", entry.ports["https"], block["https_port"], block["bind"]),
    )


def _catalog_node(node_id: str, kind: str, node_type: str, tier: str, label: str, *,
                  replicas: int = 1, group: str | None = None,
                  ports: tuple[Port, ...] | None = None) -> Node:
    entry = CATALOG[kind]
    own_ports = ports if ports is not None else tuple(
        Port(name, number) for name, number in entry.ports.items()
    )
    volume = f"{node_id}-data" if entry.data_path else None
    return Node(node_id, kind, node_type, tier, label, entry.image, own_ports, replicas, group,
                volume)


def _app_context(spec: dict[str, Any]) -> dict[str, Any]:
    app = _merged(spec, "app")
    python = CATALOG["python"]
    entities = app.get("entities") or DEFAULTS["app"]["entities"]
    return {
        "service": "app",
        "image": python.image,
        "python_version": python.tag.split("-")[0].rsplit(".", 1)[0],
        "port": APP_PORT,
        "user": python.user,
        "api": list(app["api"]),
        "entities": [_entity(e) for e in entities],
        "healthcheck": _healthcheck("python"),
    }


def _data_context(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    database = _merged(spec, "database")
    engine = database["engine"]
    db_entry = CATALOG[engine]
    cache = _merged(spec, "cache")
    limit = {**DEFAULTS["cache"]["rate_limit"], **(cache.get("rate_limit") or {})}
    redis = CATALOG["redis"]
    return (
        {"engine": engine, "service": "db", "image": db_entry.image, "port": db_entry.main_port,
         "name": database["name"], "user": "app", "data_path": db_entry.data_path,
         "healthcheck": _healthcheck(engine)},
        {"engine": "redis", "service": "redis", "image": redis.image, "port": redis.main_port,
         "rate_limit": {"requests": limit["requests"], "window_seconds": seconds(limit["window"])},
         "ttl_seconds": seconds(cache["ttl"]), "sentinel": bool(cache.get("sentinel")),
         "data_path": redis.data_path, "healthcheck": _healthcheck("redis")},
    )


def _resolve_mvc(spec: dict[str, Any]) -> Architecture:
    proxy = _merged(spec, "proxy")
    app = _app_context(spec)
    database, cache = _data_context(spec)
    proxy_ctx = _edge_block("proxy", proxy, "proxy", {"host": "app", "port": APP_PORT})
    entry = CATALOG[proxy["kind"]]
    nodes = (
        _catalog_node("proxy", proxy["kind"], "proxy", "edge", f"{proxy['kind']} reverse proxy",
                      ports=_published(proxy, entry)),
        Node("app", "python", "app", "application", "app (FastAPI)", app["image"],
             (Port("http", APP_PORT),)),
        _catalog_node("db", database["engine"], "database", "data", database["engine"]),
        _catalog_node("redis", "redis", "cache", "data", "redis"),
    )
    edges = (
        Edge("proxy", "app", "HTTP", APP_PORT),
        Edge("app", "db", CATALOG[database["engine"]].protocol, database["port"]),
        Edge("app", "redis", "RESP", cache["port"]),
    )
    context = {"name": spec["name"], "architecture": "mvc", "archgen_version": __version__,
               "proxy": proxy_ctx, "app": app, "database": database, "cache": cache}
    return Architecture(spec["name"], "mvc", nodes, edges, context)


def _resolve_scaled(spec: dict[str, Any]) -> Architecture:
    sentinel_port = 26379
    balancer = _merged(spec, "load_balancer")
    app_block = _merged(spec, "app")
    replicas = int(app_block["replicas"])
    app = _app_context(spec)
    app["replicas"] = replicas
    app["weights"] = list(app_block.get("weights") or [1] * replicas)
    # One compose service per replica (`app-1` …), so every load balancer can name,
    # weigh and health-check each one, and `archgen status` lists each.
    app["instances"] = [f"app-{n}" for n in range(1, replicas + 1)]
    database, cache = _data_context(spec)
    members = int(_merged(spec, "database")["replicas"])
    database["replicas"] = members
    database["members"] = [f"db-{n}" for n in range(1, members + 1)]
    database["primary"] = database["members"][0]
    database["standbys"] = database["members"][1:]
    database["service"] = database["primary"]
    if database["engine"] == "mongodb":
        database["replica_set"] = "rs0"
        database["init_service"] = "db-init"
        # The first member is preferred as primary; any member can be elected.
        database["priorities"] = [2] + [1] * (members - 1)
    else:
        database["replication_user"] = "replicator"
    if cache["sentinel"]:
        cache["nodes"] = ["redis-1", "redis-2"]
        cache["service"] = cache["nodes"][0]
        cache["sentinels"] = [f"sentinel-{n}" for n in range(1, 4)]
        cache["sentinel_port"] = sentinel_port
        cache["master_name"] = "mymaster"
        cache["quorum"] = 2  # of three sentinels: one may be lost
        cache["down_after_ms"] = 3000
        cache["failover_timeout_ms"] = 10000
        # Healthy once this sentinel sees a quorum able to authorise a failover.
        cache["sentinel_healthcheck"] = {
            **cache["healthcheck"],
            "test": ["CMD-SHELL", 'REDISCLI_AUTH="$${REDIS_PASSWORD}" redis-cli -h 127.0.0.1 '
                     f"-p {sentinel_port} sentinel ckquorum mymaster | grep -q '^OK'"],
        }
    lb_ctx = _edge_block("load_balancer", balancer, "lb", {"host": "app", "port": APP_PORT})
    lb_ctx["algorithm"] = balancer["algorithm"]
    # A replica that does not accept a connection within a second is skipped for the next.
    lb_ctx["timeouts"]["connect"] = 1
    # How the load balancer watches its replicas: an active probe of each replica's
    # liveness path every `interval_ms`; `fall` failures in a row take it out, `rise`
    # successes bring it back. Where only passive checks exist (nginx), a replica that
    # failed `max_fails` times is skipped for `fail_timeout_s`. Idempotent requests
    # that fail on one replica are retried on up to `retries` others.
    lb_ctx["health"] = {"path": "/healthz", "interval_ms": 1000, "timeout_ms": 1000, "fall": 2,
                        "rise": 2, "max_fails": 1, "fail_timeout_s": 5, "retries": 2}
    lb_ctx["upstreams"] = [
        {"name": name, "host": name, "port": APP_PORT, "weight": weight}
        for name, weight in zip(app["instances"], app["weights"], strict=True)
    ]
    entry = CATALOG[balancer["kind"]]
    db_label = (f"{database['engine']} replica set ×{members}" if database["engine"] == "mongodb"
                else f"{database['engine']} primary + {members - 1} replica(s)"
                if members > 1 else database["engine"])
    nodes: list[Node] = [
        _catalog_node("lb", balancer["kind"], "load_balancer", "edge",
                      f"{balancer['kind']} load balancer ({balancer['algorithm']})",
                      ports=_published(balancer, entry)),
        Node("app", "python", "app", "application", f"app ×{replicas}", app["image"],
             (Port("http", APP_PORT),), replicas=replicas),
        _catalog_node("db", database["engine"], "database", "data", db_label, replicas=members,
                      group="replica set" if database["engine"] == "mongodb"
                      else "replication" if members > 1 else None),
    ]
    edges = [
        Edge("lb", "app", "HTTP", APP_PORT),
        Edge("app", "db", CATALOG[database["engine"]].protocol, database["port"]),
        Edge("app", "redis", "RESP", cache["port"]),
    ]
    if database["engine"] == "mongodb":
        nodes.append(_catalog_node("db-init", "mongodb", "job", "platform", "replica-set init"))
        edges.append(Edge("db-init", "db", "MongoDB", database["port"]))
    if cache["sentinel"]:
        nodes.append(_catalog_node("redis", "redis", "cache", "data", "redis primary + replica",
                                   replicas=2, group="sentinel"))
        nodes.append(_catalog_node("sentinel", "redis", "sentinel", "platform", "redis sentinel ×3",
                                   replicas=3, group="sentinel",
                                   ports=(Port("sentinel", sentinel_port),)))
        edges.append(Edge("sentinel", "redis", "RESP", cache["port"]))
        edges.append(Edge("app", "sentinel", "RESP", sentinel_port))
    else:
        nodes.append(_catalog_node("redis", "redis", "cache", "data", "redis"))
    context = {"name": spec["name"], "architecture": "scaled", "archgen_version": __version__,
               "load_balancer": lb_ctx, "app": app, "database": database, "cache": cache}
    return Architecture(spec["name"], "scaled", tuple(nodes), tuple(edges), context)


def _resolve_microservices(spec: dict[str, Any]) -> Architecture:
    gateway = _merged(spec, "gateway")
    bus = _merged(spec, "bus")
    auth = _merged(spec, "auth")
    observability = list(spec.get("observability", DEFAULTS["observability"]))
    entry = CATALOG[gateway["kind"]]
    bus_entry = CATALOG[bus["kind"]]
    nodes: list[Node] = [
        _catalog_node("gateway", gateway["kind"], "gateway", "edge",
                      f"{gateway['kind']} API gateway", ports=_published(gateway, entry)),
        _catalog_node("bus", bus["kind"], "bus", "platform", bus["kind"]),
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
        edges.append(Edge(name, "bus", bus_entry.protocol, bus_entry.main_port))
        edges.append(Edge(name, "keycloak", "OIDC"))
        if service["database"] != "none":
            db_id = f"{name}-db"
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
    types = {"prometheus": "metrics", "grafana": "dashboards", "jaeger": "tracing"}
    for tool in observability:
        nodes.append(_catalog_node(tool, tool, types[tool], "platform", tool))
    if "grafana" in observability and "prometheus" in observability:
        edges.append(Edge("grafana", "prometheus", "HTTP", CATALOG["prometheus"].main_port))
    context = {
        "name": spec["name"], "architecture": "microservices", "archgen_version": __version__,
        "gateway": _edge_block("gateway", gateway, "gateway", {"host": "", "port": APP_PORT}),
        "bus": {"kind": bus["kind"], "image": bus_entry.image, "port": bus_entry.main_port},
        "auth": {"provider": auth["provider"], "realm": auth.get("realm") or spec["name"]},
        "services": services, "sagas": list(spec.get("sagas") or []),
        "observability": observability,
    }
    return Architecture(spec["name"], "microservices", tuple(nodes), tuple(edges), context)


_RESOLVERS = {"mvc": _resolve_mvc, "scaled": _resolve_scaled,
              "microservices": _resolve_microservices}


def resolve(spec: Spec) -> Architecture:
    """Apply every default and the catalog to a validated spec."""
    return _RESOLVERS[spec.architecture](spec.data)
