"""The architecture's graph (components and the edges between them) and the resolved whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archgen.model.workload import Workload


@dataclass(frozen=True)
class Port:
    """A port a component serves; `published` is the host port when it is published."""

    name: str
    container: int
    published: int | None = None
    bind: str | None = None


@dataclass(frozen=True)
class Node:
    """One component of the architecture, run by one or more workloads (`services`)."""

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
    services: tuple[str, ...] = ()  # the compose services (workloads) that run it


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
    """The resolved graph, the workloads that run it, and the data handed to the blueprint."""

    name: str
    architecture: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    context: dict[str, Any] = field(default_factory=dict)
    workloads: tuple[Workload, ...] = ()
    networks: tuple[str, ...] = ()
    parts: tuple[tuple[str, str], ...] = ()  # (shared part, folder it renders into), in order
    # Parts rendered once more per instance (a microservice): (part, folder, the keys of
    # `arch` this instance replaces, such as its own `app` and `database`), after `parts`.
    instances: tuple[tuple[str, str, dict[str, Any]], ...] = ()

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)

    def workload(self, name: str) -> Workload:
        return next(w for w in self.workloads if w.name == name)

    def node_of(self, service: str) -> str | None:
        """The node a compose service (or a container's service label) runs."""
        for node in self.nodes:
            if service in node.services:
                return node.id
        return None
