"""Workloads → Kubernetes units: identical replicas grouped, files and secrets located, names kept."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from archgen.model.graph import Architecture, Node
from archgen.model.workload import Mount, Workload

# Private material in a rendered project (TLS keys): a Secret, never a ConfigMap.
PRIVATE_DIRS = ("tls",)
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")


def duration(text: str) -> float:
    """Seconds in a compose duration (`1m30s`, `500ms`, `10s`)."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r}")
    return sum(float(n) * _UNIT[u] for n, u in parts)


def dns_name(text: str) -> str:
    """A DNS-1123 label made from any text."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "x"


@dataclass
class Unit:
    """One Deployment, StatefulSet or Job: a workload, or identical replicas of one node."""

    name: str
    node: Node
    workloads: list[Workload]
    kind: str  # Deployment | StatefulSet | Job

    @property
    def workload(self) -> Workload:
        return self.workloads[0]

    @property
    def local_only(self) -> bool:
        """Published, but not the edge: bound to 127.0.0.1 in compose (a UI, gRPC beside httpd)."""
        return bool(self.workload.ports) and self.node.tier != "edge"

    @property
    def published(self) -> bool:
        """The edge: its ports are published by the deployment too."""
        return bool(self.workload.ports) and not self.local_only

    @property
    def replicas(self) -> int:
        return len(self.workloads)

    @property
    def grouped(self) -> bool:
        return len(self.workloads) > 1

    @property
    def instance_names(self) -> list[str]:
        return [w.name for w in self.workloads]


def _normalised(workload: Workload) -> Workload:
    env = tuple((k, "<instance>" if v == workload.name else v) for k, v in workload.environment)
    return replace(workload, name="", environment=env, comment=(), field_comments=())


def units_of(architecture: Architecture) -> tuple[list[Unit], list[Workload]]:
    """Group stateless replicas that differ only by their instance id; return (units, skipped).

    Stateful members stay one StatefulSet each: connection strings and replica-set
    configuration name every member (`db-1:27017`), and those names must keep resolving.
    """
    units: list[Unit] = []
    skipped: list[Workload] = []
    for node in architecture.nodes:
        runs = [w for w in architecture.workloads if w.node == node.id]
        exported = [w for w in runs if not (w.job and "test" in w.profiles)]
        skipped += [w for w in runs if w not in exported]
        replicated = [w for w in exported if not w.stateful and not w.job]
        if len(replicated) > 1 and len({_normalised(w) for w in replicated}) == 1:
            taken = {w.name for w in architecture.workloads}
            name = node.id if node.id not in taken else replicated[0].name
            units.append(Unit(name, node, replicated, "Deployment"))
            exported = [w for w in exported if w not in replicated]
        for workload in exported:
            kind = "Job" if workload.job else "StatefulSet" if workload.stateful else "Deployment"
            units.append(Unit(workload.name, node, [workload], kind))
    return units, skipped


@dataclass
class ProjectFiles:
    """The project's files that workloads mount: ConfigMaps (config) and Secrets (private dirs)."""

    root: Path
    config_maps: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> key -> text
    secrets: dict[str, str] = field(default_factory=dict)  # name -> project-relative folder

    def locate(self, mount: Mount) -> tuple[str, str, str | None]:
        """Where a `./…` mount comes from: (secret|configmap, object name, key or None for a folder)."""
        relative = Path(mount.source[2:])
        path = self.root / relative
        if relative.parts and relative.parts[-1] in PRIVATE_DIRS:
            name = dns_name("-".join(relative.parts))
            self.secrets[name] = relative.as_posix()
            return "secret", name, None
        if path.is_dir():
            name = dns_name("-".join(relative.parts) + "-files")
            data = self.config_maps.setdefault(name, {})
            for child in sorted(path.iterdir()):
                if child.is_file():
                    data[child.name] = child.read_text(encoding="utf-8")
            return "configmap", name, None
        if not path.is_file():
            from archgen.errors import ExportError

            raise ExportError(f"{mount.source} is mounted but missing from {self.root}",
                              hint="re-render the project with `archgen new --force`")
        folder = relative.parent.as_posix()
        name = dns_name((folder if folder != "." else "project") + "-files")
        key = relative.name
        self.config_maps.setdefault(name, {})[key] = path.read_text(encoding="utf-8")
        return "configmap", name, key
