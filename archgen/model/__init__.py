"""The resolved architecture: a graph of components and the workloads that run it, defaults applied."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from archgen.model.common import APP_PORT, DEFAULTS, TIERS, seconds
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.workload import Workload

if TYPE_CHECKING:
    from archgen.spec import Spec

__all__ = ["APP_PORT", "DEFAULTS", "TIERS", "Architecture", "Edge", "Node", "Port", "Workload",
           "resolve", "resolve_data", "seconds"]


def resolve_data(data: dict[str, object]) -> Architecture:
    """Resolve validated spec data: every default and the catalog applied, workloads built."""
    from archgen.model.auth import with_auth
    from archgen.model.observability import with_observability
    from archgen.model.registry import entry_for
    from archgen.model.uis import with_ui_labels

    architecture = entry_for(str(data["architecture"])).resolve(dict(data))
    architecture = with_auth(architecture, dict(data))
    architecture = with_observability(architecture, dict(data))
    return _with_services(with_ui_labels(architecture))


def resolve(spec: Spec) -> Architecture:
    """Apply every default and the catalog to a validated spec."""
    return resolve_data(spec.data)


def _with_services(architecture: Architecture) -> Architecture:
    """Give every node the names of the workloads that run it, and its first data volume."""
    nodes = []
    for node in architecture.nodes:
        runs = [w for w in architecture.workloads if w.node == node.id]
        if not runs:  # a blueprint that does not render yet: the node's own name
            nodes.append(replace(node, services=(node.id,)))
            continue
        volumes = [v for w in runs for v in w.volumes]
        nodes.append(replace(node, services=tuple(w.name for w in runs),
                             volume=volumes[0] if volumes else None))
    return replace(architecture, nodes=tuple(nodes))
