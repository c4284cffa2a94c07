"""The diagram graph: the resolved model plus users, levels, groups and live states."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from archgen.catalog import CATALOG
from archgen.diagram._compose import ComposeInfo, PublishedPort
from archgen.model import TIERS, Architecture, Node, Port

LEVELS = ("context", "container", "deployment")
GROUPINGS = ("tier", "network", "none")
STATUSES = ("up", "starting", "down", "absent")

USERS = "ext:users"

TYPE_TITLES = {
    "actor": "external users",
    "system": "system",
    "proxy": "reverse proxy",
    "load_balancer": "load balancer",
    "gateway": "API gateway",
    "app": "app",
    "service": "service",
    "database": "database",
    "cache": "cache",
    "bus": "message bus",
    "identity": "identity provider",
    "metrics": "metrics",
    "dashboards": "dashboards",
    "tracing": "tracing",
    "job": "one-shot job",
    "sentinel": "failover monitor",
    "volume": "volume",
    "network": "network",
    "container": "container",
}


@dataclass(frozen=True)
class ServiceState:
    """What the engine says about one container: `state` (running, exited…) and its health."""

    state: str
    health: str | None = None
    exit_code: int | None = None

    @classmethod
    def coerce(cls, value: object) -> ServiceState:
        """Accept a ServiceState, a `{"state": …, "health": …}` dict, a tuple or a state name."""
        if isinstance(value, ServiceState):
            return value
        if isinstance(value, Mapping):
            code = value.get("exit_code")
            return cls(str(value.get("state", "absent")),
                       None if value.get("health") is None else str(value.get("health")),
                       None if code is None else int(code))
        if isinstance(value, tuple):
            return cls(*value)
        if isinstance(value, str):
            return cls(value)
        raise TypeError(f"not a service state: {value!r}")

    def status(self, job: bool = False) -> str:
        """Classify as up (green), starting (yellow), down (red) or absent (grey)."""
        state = self.state.lower()
        health = (self.health or "").lower()
        if state == "absent":
            return "absent"
        if state == "running":
            return {"starting": "starting", "unhealthy": "down"}.get(health, "up")
        if state in ("created", "restarting"):
            return "starting"
        if state == "exited" and job and self.exit_code == 0:
            return "up"
        return "down"


def status_of(value: object, *, job: bool = False) -> str:
    """The status of a service from one state or a list of replica states (the worst wins)."""
    if isinstance(value, Sequence) and not isinstance(value, (str, tuple)):
        statuses = [ServiceState.coerce(v).status(job) for v in value]
        if not statuses:
            return "absent"
        return max(statuses, key=("up", "absent", "starting", "down").index)
    return ServiceState.coerce(value).status(job)


@dataclass(frozen=True)
class DiagramNode:
    """A box in the drawing; `cluster` is the group it is drawn in, `status` its live state."""

    id: str
    label: str
    type: str
    subtitle: str = ""
    tier: str | None = None
    kind: str | None = None
    image: str | None = None
    replicas: int = 1
    group: str | None = None
    ports: tuple[Port, ...] = ()
    networks: tuple[str, ...] = ()
    volume: str | None = None
    cluster: str | None = None
    status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id, "label": self.label, "type": self.type, "subtitle": self.subtitle,
            "tier": self.tier, "kind": self.kind, "image": self.image, "replicas": self.replicas,
            "group": self.group, "networks": list(self.networks), "volume": self.volume,
            "cluster": self.cluster,
            "ports": [{"name": p.name, "container": p.container, "published": p.published,
                       "bind": p.bind} for p in self.ports],
        }
        if self.status is not None:
            data["status"] = self.status
        return data


@dataclass(frozen=True)
class DiagramEdge:
    """An arrow; `kind` is flow (a protocol), mount (a volume) or network (membership)."""

    source: str
    target: str
    label: str
    protocol: str | None = None
    port: int | str | None = None
    kind: str = "flow"

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "label": self.label,
                "protocol": self.protocol, "port": self.port, "kind": self.kind}


@dataclass(frozen=True)
class Cluster:
    """A group of nodes drawn together (a tier, or the networks nodes share)."""

    id: str
    label: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Diagram:
    """Everything a writer needs, already sorted: writers only format it."""

    name: str
    architecture: str
    level: str
    group_by: str
    nodes: tuple[DiagramNode, ...]
    edges: tuple[DiagramEdge, ...]
    clusters: tuple[Cluster, ...]
    live: bool = False

    @property
    def title(self) -> str:
        grouping = "" if self.group_by == "none" else f", grouped by {self.group_by}"
        return f"{self.name} ({self.architecture}): {self.level} level{grouping}"

    def unclustered(self) -> tuple[DiagramNode, ...]:
        return tuple(n for n in self.nodes if n.cluster is None)

    def members(self, cluster: Cluster) -> tuple[DiagramNode, ...]:
        by_id = {n.id: n for n in self.nodes}
        return tuple(by_id[m] for m in cluster.members)


def _label(node: Node) -> str:
    if node.replicas > 1 and "×" not in node.label and node.group is None:
        return f"{node.label} ×{node.replicas}"
    return node.label


def _subtitle(node_type: str, label: str, group: str | None) -> str:
    parts = []
    title = TYPE_TITLES.get(node_type, node_type.replace("_", " "))
    if title.lower() not in label.lower():
        parts.append(title)
    if group and group.lower() not in label.lower():
        parts.append(group)
    return " · ".join(parts)


def _protocol(node: Node | None, target: int | str) -> str:
    if node is None:
        return "TCP"
    for port in node.ports:
        if port.container == target:
            if port.name in ("http", "https"):
                return port.name.upper()
            if port.name == "grpc":  # the app's gRPC port published beside an httpd edge
                return "gRPC"
            entry = CATALOG.get(node.kind)
            if entry is not None and entry.main_port == target:
                return entry.protocol
            return port.name.upper()
    return "TCP"


@dataclass(frozen=True)
class _Published:
    node: str
    protocol: str
    port: PublishedPort


def _published(architecture: Architecture, compose: ComposeInfo | None) -> list[_Published]:
    found: list[_Published] = []
    if compose is None:
        for node in architecture.nodes:
            for port in node.ports:
                if port.published is not None:
                    found.append(_Published(node.id, _protocol(node, port.container),
                                            PublishedPort(port.container, port.published, port.bind)))
    else:
        for service, ports in compose.ports.items():
            known = architecture.node_of(service)
            node_id = known or f"svc:{service}"
            owner = architecture.node(known) if known else None
            for published in ports:
                if published.published is not None:
                    found.append(_Published(node_id, _protocol(owner, published.target), published))
    # HTTPS before HTTP: the port users should open comes first.
    order = {"HTTPS": 0, "HTTP": 1}
    found.sort(key=lambda p: (p.node, order.get(p.protocol, 2), str(p.port.published)))
    unique: list[_Published] = []
    for candidate in found:
        if all((u.node, u.protocol, u.port.published) != (candidate.node, candidate.protocol,
                                                           candidate.port.published) for u in unique):
            unique.append(candidate)
    return unique


def _port_label(entry: _Published, level: str) -> str:
    port = entry.port
    if level == "deployment":
        bind = f"{port.bind}:" if port.bind else ""
        return f"{entry.protocol} {bind}{port.published}->{port.target}"
    return f"{entry.protocol} :{port.published}"


def _users_node() -> DiagramNode:
    return DiagramNode(USERS, "users", "actor", subtitle="", kind="users")


def _context(architecture: Architecture, compose: ComposeInfo | None) -> tuple[
        list[DiagramNode], list[DiagramEdge]]:
    system = f"sys:{architecture.name}"
    count = len(architecture.nodes)
    nodes = [
        _users_node(),
        DiagramNode(system, architecture.name, "system",
                    subtitle=f"{architecture.architecture} · {count} components", kind="system"),
    ]
    edges = []
    entry_points = {n.id for n in architecture.nodes if n.tier == "edge"}
    for entry in _published(architecture, compose):
        label = _port_label(entry, "context")
        if entry.node not in entry_points:
            label += f" ({entry.node.removeprefix('svc:')})"
        edges.append(DiagramEdge(USERS, system, label, entry.protocol, entry.port.published))
    return nodes, edges


def _networks_for(node_id: str, compose: ComposeInfo | None,
                  architecture: Architecture) -> tuple[str, ...]:
    if compose is None:
        return ()
    found: set[str] = set()
    for service, networks in compose.networks.items():
        if (architecture.node_of(service) or f"svc:{service}") == node_id:
            found.update(networks)
    return tuple(sorted(found))


def _mounts_for(node: Node, compose: ComposeInfo | None,
                architecture: Architecture) -> list[tuple[str, str]]:
    if compose is None:
        entry = CATALOG.get(node.kind)
        if node.volume and node.type != "job" and entry is not None and entry.data_path:
            return [(node.volume, entry.data_path)]
        return []
    found: set[tuple[str, str]] = set()
    for service, mounts in compose.mounts.items():
        if architecture.node_of(service) == node.id:
            found.update((m.volume, m.target) for m in mounts)
    return sorted(found)


def _container(architecture: Architecture, level: str, compose: ComposeInfo | None) -> tuple[
        list[DiagramNode], list[DiagramEdge]]:
    nodes = [_users_node()]
    edges: list[DiagramEdge] = []
    # volume -> mount paths; the path goes on the volume (not the edge) to keep labels few.
    volumes: dict[str, list[str]] = {}

    def mount(node_id: str, volume: str, target: str) -> None:
        paths = volumes.setdefault(volume, [])
        if target and target not in paths:
            paths.append(target)
        edges.append(DiagramEdge(node_id, f"vol:{volume}", "", kind="mount"))

    for node in architecture.nodes:
        label = _label(node)
        nodes.append(DiagramNode(
            node.id, label, node.type, _subtitle(node.type, label, node.group), node.tier,
            node.kind, node.image, node.replicas, node.group, node.ports,
            _networks_for(node.id, compose, architecture), node.volume,
        ))
        if level == "deployment":
            for volume, target in _mounts_for(node, compose, architecture):
                mount(node.id, volume, target)
    for edge in architecture.edges:
        edges.append(DiagramEdge(edge.source, edge.target, edge.label, edge.protocol, edge.port))
    for entry in _published(architecture, compose):
        edges.append(DiagramEdge(USERS, entry.node, _port_label(entry, level), entry.protocol,
                                 entry.port.published))
    known = {n.id for n in nodes}
    extras = [e.node for e in _published(architecture, compose)]
    if compose is not None and level == "deployment":
        extras += [f"svc:{s}" for s in compose.services if architecture.node_of(s) is None]
    for node_id in dict.fromkeys(extras):
        if node_id in known:
            continue
        service = node_id.removeprefix("svc:")
        images = compose.images if compose is not None else {}
        networks = compose.networks.get(service, ()) if compose is not None else ()
        nodes.append(DiagramNode(node_id, service, "container", "container",
                                 image=images.get(service), kind="container", networks=networks))
        known.add(node_id)
        if level == "deployment" and compose is not None:
            for extra in compose.mounts.get(service, ()):
                mount(node_id, extra.volume, extra.target)
    for volume, paths in volumes.items():
        nodes.append(DiagramNode(f"vol:{volume}", volume, "volume", "volume · " + ", ".join(paths)
                                 if paths else "volume", kind="volume"))
    return nodes, edges


def _network_nodes(nodes: list[DiagramNode]) -> tuple[list[DiagramNode], list[DiagramEdge]]:
    names = sorted({net for n in nodes for net in n.networks})
    extra = [DiagramNode(f"net:{name}", name, "network", "network", kind="network") for name in names]
    edges = [DiagramEdge(n.id, f"net:{net}", "", kind="network") for n in nodes for net in n.networks]
    return extra, edges


def _cluster_key(node: DiagramNode, group_by: str) -> tuple[str, str] | None:
    if node.type == "actor" or group_by == "none":
        return None
    if node.type == "volume":
        return ("volumes", "volumes")
    if node.type == "network":
        return ("networks", "networks")
    if group_by == "tier":
        tier = node.tier or "platform"
        return (f"tier:{tier}", tier)
    networks = node.networks or ("default",)
    label = ("network: " if len(networks) == 1 else "networks: ") + " + ".join(networks)
    return (f"net:{'+'.join(networks)}", label)


def _cluster_order(key: str) -> tuple[int, str]:
    if key.startswith("tier:"):
        tier = key.removeprefix("tier:")
        return (TIERS.index(tier) if tier in TIERS else len(TIERS), key)
    return ({"volumes": 90, "networks": 91}.get(key, 50), key)


def _apply_states(architecture: Architecture, nodes: list[DiagramNode],
                  states: Mapping[str, object]) -> list[DiagramNode]:
    ids = frozenset(n.id for n in nodes)
    collected: dict[str, list[object]] = {}
    for service, value in states.items():
        node_id = architecture.node_of(service) or (
            f"svc:{service}" if f"svc:{service}" in ids else None)
        if node_id is None:
            continue
        values = list(value) if isinstance(value, list) else [value]
        collected.setdefault(node_id, []).extend(values)
    result = []
    for node in nodes:
        if node.type in ("actor", "volume", "network", "system"):
            result.append(node)
            continue
        status = status_of(collected.get(node.id, []), job=node.type == "job")
        result.append(replace(node, status=status))
    return result


def build_diagram(architecture: Architecture, *, level: str = "container", group_by: str = "tier",
                  compose: ComposeInfo | None = None,
                  states: Mapping[str, object] | None = None) -> Diagram:
    """Turn the resolved model (and optionally compose facts and live states) into a Diagram."""
    if level == "context":
        nodes, edges = _context(architecture, compose)
        group_by = "none"
    else:
        nodes, edges = _container(architecture, level, compose)
        if level == "deployment" and group_by != "network":
            extra, links = _network_nodes(nodes)
            nodes += extra
            edges += links
    if states is not None:
        nodes = _apply_states(architecture, nodes, states)
    keyed: dict[str, tuple[str, list[str]]] = {}
    placed = []
    # A volume sits in the group of the first node that mounts it.
    owners: dict[str, str] = {}
    for edge in sorted(edges, key=lambda e: e.source):
        if edge.kind == "mount":
            owners.setdefault(edge.target, edge.source)
    by_id = {n.id: n for n in nodes}
    for node in sorted(nodes, key=lambda n: n.id):
        key = _cluster_key(by_id[owners[node.id]] if node.id in owners else node, group_by)
        if key is not None:
            keyed.setdefault(key[0], (key[1], []))[1].append(node.id)
        placed.append(replace(node, cluster=key[0] if key else None))
    clusters = tuple(Cluster(key, label, tuple(members))
                     for key, (label, members) in sorted(keyed.items(),
                                                         key=lambda item: _cluster_order(item[0])))
    order = {member: index for index, member in enumerate(m for c in clusters for m in c.members)}
    placed.sort(key=lambda n: (n.cluster is not None, order.get(n.id, 0), n.id))
    kinds = {"flow": 0, "mount": 1, "network": 2}
    # Stable: parallel edges keep the model's order (HTTPS before HTTP).
    unique_edges = sorted(dict.fromkeys(edges), key=lambda e: (kinds[e.kind], e.source, e.target))
    return Diagram(architecture.name, architecture.architecture, level, group_by, tuple(placed),
                   tuple(unique_edges), clusters, live=states is not None)
