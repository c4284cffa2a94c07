"""Semantic checks the JSON Schema cannot express: names, references, ports, counts."""

from __future__ import annotations

import ipaddress
import keyword
import re
from collections.abc import Iterable
from typing import Any

from archgen.errors import SpecProblem
from archgen.spec._schema import did_you_mean
from archgen.spec._yaml import Marks, Path, format_path

# What brings each UI into a project (the hint when `ui_ports` names a UI it does not have).
UI_NEEDS = {"prometheus": "add prometheus to observability", "jaeger": "add jaeger to observability",
            "grafana": "add grafana to observability",
            "rabbitmq": "use bus: {kind: rabbitmq} (microservices)", "keycloak": "add auth"}
DNS_LABEL = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_DNS_HINT = "a DNS label: a lowercase letter, then lowercase letters, digits or '-', at most 63"
# Names the blueprints already use for their own services or Python modules.
_RESERVED_SERVICE_NAMES = {"gateway", "proxy", "lb", "keycloak", "kafka", "rabbitmq", "prometheus",
                           "grafana", "jaeger", "redis", "db", "app"}
# pydantic's BaseModel attributes, which a field of the same name would shadow.
_RESERVED_FIELD_NAMES = {"json", "copy", "schema", "dict", "validate", "construct", "fields",
                         "model_config", "model_fields"}
# The microservices blueprint's own services: the saga orchestrator and the bus.
_MICROSERVICES_NAMES = {"sagas", "bus"}
# What the microservices blueprint does not render yet (the next issue), with the advice.
_NOT_YET: dict[str, str] = {}
# cache keys with no meaning behind a gateway: only the rate limit applies there.
_GATEWAY_CACHE = {"ttl": "cached responses", "sentinel": "Redis sentinel",
                  "engine": "a Redis engine"}
_RESERVED_ENTITY_NAMES = {"health", "healthz", "readyz", "whoami", "docs", "openapi", "api"}


class _Checker:
    def __init__(self, data: dict[str, Any], marks: Marks, filename: str) -> None:
        self.data = data
        self.marks = marks
        self.filename = filename
        self.problems: list[SpecProblem] = []

    def add(self, path: Path, message: str, hint: str | None = None, *, key: bool = False) -> None:
        line, column = self.marks.find(path, key=key)
        self.problems.append(
            SpecProblem(self.filename, line, column, format_path(path), message, hint)
        )

    def names(self, items: Iterable[tuple[Path, str]], what: str, reserved: set[str]) -> None:
        first: dict[str, Path] = {}
        for path, name in items:
            if not DNS_LABEL.match(name):
                self.add(path, f"{what} name {name!r} is not a DNS label", _DNS_HINT)
            elif name in reserved:
                self.add(path, f"{what} name {name!r} is reserved by archgen",
                         f"reserved: {', '.join(sorted(reserved))}")
            if name in first:
                self.add(path, f"duplicate {what} name {name!r}",
                         f"first defined at {format_path(first[name])}")
            else:
                first[name] = path

    def ports(self) -> None:
        seen: dict[int, Path] = {}
        for section in ("proxy", "load_balancer", "gateway"):
            block = self.data.get(section)
            if not isinstance(block, dict):
                continue
            if isinstance(block.get("bind"), str):
                self.bind((section, "bind"), block["bind"])
            for key in ("http_port", "https_port"):
                port = block.get(key)
                if not isinstance(port, int):
                    continue
                path: Path = (section, key)
                if port in seen:
                    self.add(path, f"port {port} is already used by {format_path(seen[port])}",
                             "each published port must be different")
                else:
                    seen[port] = path
        ui_ports = self.data.get("ui_ports")
        for tool, port in (ui_ports if isinstance(ui_ports, dict) else {}).items():
            if isinstance(port, int) and port in seen:
                self.add(("ui_ports", tool), f"port {port} is already used by "
                         f"{format_path(seen[port])}", "each published port must be different")
            elif isinstance(port, int):
                seen[port] = ("ui_ports", tool)
        self.default_ui_ports(seen, ui_ports if isinstance(ui_ports, dict) else {})

    def default_ui_ports(self, seen: dict[int, Path], ui_ports: dict[str, Any]) -> None:
        """A UI without `ui_ports.<tool>` takes its default port: it must be free too."""
        from archgen.model.uis import DEFAULT_UI_PORTS, ui_tools

        for path, tool in ui_tools(self.data):
            port = DEFAULT_UI_PORTS[tool] if tool not in ui_ports else None
            if port is not None and port in seen:
                self.add(path, f"{tool}'s default UI port {port} is already used "
                         f"by {format_path(seen[port])}", f"set ui_ports.{tool} to a free port")
            elif port is not None:
                seen[port] = path

    def bind(self, path: Path, text: str) -> None:
        """The published ports' host address: an IPv4 address the whole project can use."""
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            hint = ("use 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)"
                    if text == "localhost" else "an IPv4 address such as 127.0.0.1 or 0.0.0.0")
            self.add(path, f"{text!r} is not an IP address", hint)
            return
        if address.version == 6:
            self.add(path, f"IPv6 bind address {text!r} is not available yet",
                     "publish on an IPv4 address such as 127.0.0.1 or 0.0.0.0")

    def not_yet(self) -> None:
        """Keys the schema knows that this architecture does not render yet: refused, never ignored."""
        architecture = self.data.get("architecture")
        app = self.data.get("app")
        if isinstance(app, dict) and isinstance(app.get("api"), list):
            for i, style in enumerate(app["api"]):
                if style not in ("rest", "graphql", "grpc"):
                    self.add(("app", "api", i), f"the {style} API style is not available yet for "
                             f"the {architecture} architecture", "use api: [rest, graphql, grpc]")
        tools = self.data.get("observability")
        listed: list[Any] = tools if isinstance(tools, list) else []
        for i, tool in enumerate(listed):
            if tool == "grafana" and not {"prometheus", "jaeger"} & set(listed):
                self.add(("observability", i), "grafana needs a data source: prometheus or "
                         "jaeger", "add prometheus (dashboards) and/or jaeger (traces)")
        ui_ports = self.data.get("ui_ports")
        from archgen.model.uis import ui_tools

        present = {tool for _, tool in ui_tools(self.data)}
        for tool in ui_ports if isinstance(ui_ports, dict) else {}:
            if tool not in present:
                self.add(("ui_ports", tool), f"ui_ports.{tool} is only used when the project "
                         f"has {tool}", f"{UI_NEEDS[tool]}, or remove ui_ports.{tool}", key=True)

    def entities(self) -> None:
        app = self.data.get("app")
        if isinstance(app, dict):
            self.entity_list(("app",), app.get("entities"))
        services = self.data.get("services")
        for i, service in enumerate(services if isinstance(services, list) else []):
            if isinstance(service, dict):
                self.entity_list(("services", i), service.get("entities"))

    def entity_list(self, owner: Path, entities: Any) -> None:
        """The entities of the app or of one service: names, URL segments, fields."""
        if not isinstance(entities, list):
            return
        named = [((*owner, "entities", i, "name"), e["name"]) for i, e in enumerate(entities)
                 if isinstance(e, dict) and isinstance(e.get("name"), str)]
        self.names(named, "entity", _RESERVED_ENTITY_NAMES)
        plurals: dict[str, int] = {}
        for i, entity in enumerate(entities):
            if not isinstance(entity, dict) or not isinstance(entity.get("name"), str):
                continue
            plural = entity.get("plural") or entity["name"] + "s"
            if plural in plurals:
                self.add((*owner, "entities", i), f"entity URL segment {plural!r} is used twice",
                         "give one of them a different `plural`")
            plurals[plural] = i
            fields = entity.get("fields")
            if isinstance(fields, dict):
                for field_name in fields:
                    if field_name == "id":
                        self.add((*owner, "entities", i, "fields", "id"),
                                 "field 'id' is generated by archgen", "remove it", key=True)
                    elif keyword.iskeyword(field_name) or field_name in _RESERVED_FIELD_NAMES:
                        self.add((*owner, "entities", i, "fields", field_name),
                                 f"field name {field_name!r} is reserved in the generated code",
                                 "choose another name", key=True)

    def scaled(self) -> None:
        app_block = self.data.get("app")
        app: dict[str, Any] = app_block if isinstance(app_block, dict) else {}
        replicas = app.get("replicas", 3)
        weights = app.get("weights")
        balancer_block = self.data.get("load_balancer")
        balancer: dict[str, Any] = balancer_block if isinstance(balancer_block, dict) else {}
        algorithm = balancer.get("algorithm", "round_robin")
        if algorithm == "weighted" and weights is None:
            self.add(("load_balancer", "algorithm"), "the weighted algorithm needs app.weights",
                     f"give one weight per replica, e.g. weights: {[1] * replicas}")
        if weights is not None:
            if algorithm != "weighted":
                self.add(("app", "weights"), "app.weights is only used by the weighted algorithm",
                         "set load_balancer.algorithm: weighted", key=True)
            if isinstance(replicas, int) and len(weights) != replicas:
                self.add(("app", "weights"),
                         f"{len(weights)} weights for {replicas} replicas",
                         "give exactly one weight per replica")
        database = self.data.get("database")
        if isinstance(database, dict):
            members = database.get("replicas", 3)
            engine = database.get("engine", "mongodb")
            if engine == "mysql":
                self.add(("database", "engine"), "the scaled architecture has no replicated MySQL",
                         "use mongodb (a replica set) or postgres (primary + streaming standbys)")
            if engine == "mongodb" and isinstance(members, int) and (members < 3 or members % 2 == 0):
                self.add(("database", "replicas"),
                         f"a MongoDB replica set of {members} members cannot elect by majority",
                         "use an odd number of members, at least 3")

    def mvc(self) -> None:
        database = self.data.get("database")
        if isinstance(database, dict) and "replicas" in database:
            self.add(("database", "replicas"), "database.replicas is only used by the scaled "
                     "architecture", "remove it, or use architecture: scaled", key=True)
        app = self.data.get("app")
        if isinstance(app, dict):
            for key in ("replicas", "weights"):
                if key in app:
                    self.add(("app", key), f"app.{key} is only used by the scaled architecture",
                             "remove it, or use architecture: scaled", key=True)
        cache = self.data.get("cache")
        if isinstance(cache, dict) and cache.get("sentinel"):
            self.add(("cache", "sentinel"), "Redis sentinel is only used by the scaled "
                     "architecture", key=True)

    def microservices(self) -> None:
        services = self.data.get("services")
        if not isinstance(services, list):
            return
        named = [(("services", i, "name"), s["name"]) for i, s in enumerate(services)
                 if isinstance(s, dict) and isinstance(s.get("name"), str)]
        self.names(named, "service", _RESERVED_SERVICE_NAMES | _MICROSERVICES_NAMES)
        known = {name for _, name in named}
        self.not_yet_in_microservices(services)
        for i, service in enumerate(services):
            if not isinstance(service, dict):
                continue
            for j, target in enumerate(service.get("depends_on") or []):
                if target not in known:
                    self.add(("services", i, "depends_on", j), f"unknown service {target!r}",
                             did_you_mean(target, known))
                elif target == service.get("name"):
                    self.add(("services", i, "depends_on", j), "a service cannot depend on itself")
        sagas = self.data.get("sagas") or []
        saga_names = [(("sagas", i, "name"), s["name"]) for i, s in enumerate(sagas)
                      if isinstance(s, dict) and isinstance(s.get("name"), str)]
        self.names(saga_names, "saga", set())
        for i, saga in enumerate(sagas):
            if not isinstance(saga, dict):
                continue
            for j, step in enumerate(saga.get("steps") or []):
                if isinstance(step, dict) and isinstance(step.get("service"), str):
                    target = step["service"]
                    if target not in known:
                        self.add(("sagas", i, "steps", j, "service"),
                                 f"unknown service {target!r}", did_you_mean(target, known))
        self.cycles(services)
        self.node_ids(services)

    def not_yet_in_microservices(self, services: list[Any]) -> None:
        """Keys a microservices spec may hold that do not render yet: refused, never ignored."""
        for key, message in _NOT_YET.items():
            if key in self.data:
                self.add((key,), message, "remove it; it comes with a later version", key=True)
        cache = self.data.get("cache")
        if isinstance(cache, dict):
            for key, what in _GATEWAY_CACHE.items():
                if key in cache:
                    self.add(("cache", key), f"cache.{key} ({what}) is not used by the "
                             "microservices architecture: its services keep no Redis cache",
                             "keep only cache.rate_limit (the gateway's limit)", key=True)
            limit = cache.get("rate_limit")
            if isinstance(limit, dict) and "on_unavailable" in limit:
                self.add(("cache", "rate_limit", "on_unavailable"), "the gateway keeps its rate "
                         "limit itself, without Redis: there is no outage to choose a behaviour "
                         "for", "remove it", key=True)
        for i, service in enumerate(services):
            if not isinstance(service, dict):
                continue
            for j, style in enumerate(service.get("api") or []):
                if style not in ("rest", "graphql", "grpc"):
                    self.add(("services", i, "api", j), f"the {style} API style is not "
                             "available yet for the microservices architecture",
                             "use api: [rest, graphql, grpc]")
            replicas = service.get("replicas")
            if isinstance(replicas, int) and replicas > 1:
                self.add(("services", i, "replicas"), "more than one replica of a service is "
                         "not available yet", "remove replicas (one instance each)")

    def cycles(self, services: list[Any]) -> None:
        """Services' synchronous calls (`depends_on`) must not loop."""
        calls = {s["name"]: [t for t in s.get("depends_on") or [] if isinstance(t, str)]
                 for s in services if isinstance(s, dict) and isinstance(s.get("name"), str)}
        index = {s["name"]: i for i, s in enumerate(services)
                 if isinstance(s, dict) and isinstance(s.get("name"), str)}
        done: set[str] = set()

        def visit(name: str, trail: list[str]) -> list[str] | None:
            if name in trail:
                return [*trail[trail.index(name):], name]
            if name in done or name not in calls:
                return None
            for target in calls[name]:
                found = visit(target, [*trail, name])
                if found:
                    return found
            done.add(name)
            return None

        for name in calls:
            cycle = visit(name, [])
            if cycle and len(cycle) > 2:  # a service naming itself is reported on its own
                self.add(("services", index[cycle[0]], "depends_on"),
                         "services depend on each other in a cycle: " + " → ".join(cycle),
                         "one of them must stop calling the other synchronously; "
                         "publish an event instead", key=True)
                return

    def node_ids(self, services: list[Any]) -> None:
        """Every component of the resolved graph needs its own name (they are compose services)."""
        from archgen.model import resolve_data

        try:
            resolved = resolve_data(self.data)
        except (KeyError, TypeError, ValueError):
            return  # an earlier problem; it is reported already
        nodes = resolved.nodes
        where = {s["name"]: i for i, s in enumerate(services)
                 if isinstance(s, dict) and isinstance(s.get("name"), str)}
        seen: dict[str, str] = {}
        for node in nodes:
            what = f"the {node.type.replace('_', ' ')} {node.label!r}"
            if node.id in seen:
                path: Path = ("services", where[node.id], "name") if node.id in where else ("services",)
                self.add(path, f"the name {node.id!r} is used twice: by {seen[node.id]} and by {what}",
                         "rename the service; each component becomes a container of that name")
            else:
                seen[node.id] = what
        # A service's test stage is the compose service `<name>-test`.
        nodes_seen = {node.id for node in nodes}
        for workload in resolved.workloads:
            if workload.name != workload.node and workload.name in nodes_seen and \
                    workload.name in where:
                self.add(("services", where[workload.name], "name"),
                         f"the name {workload.name!r} is used by the test stage of service "
                         f"{workload.node!r}", "rename the service")

    def run(self) -> list[SpecProblem]:
        from archgen.model.registry import REGISTRY

        self.ports()
        entry = REGISTRY.get(str(self.data.get("architecture")))
        if entry is None:  # the schema refused it already
            return self.problems
        if entry.uses_entities:
            self.entities()
        getattr(self, entry.rules)()
        self.not_yet()
        return self.problems


def check_rules(data: dict[str, Any], marks: Marks, filename: str) -> list[SpecProblem]:
    """Return the semantic problems of a schema-valid spec."""
    return _Checker(data, marks, filename).run()
