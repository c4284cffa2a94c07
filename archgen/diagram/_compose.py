"""What a rendered `compose.yaml` adds to a diagram, read through the runtime's one compose loader."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from archgen.runtime.model import Project


@dataclass(frozen=True)
class PublishedPort:
    """One `ports:` entry: host `bind`:`published` → container `target`."""

    target: int | str
    published: int | str | None = None
    bind: str | None = None
    protocol: str = "tcp"


@dataclass(frozen=True)
class Mount:
    """A named volume mounted into a service at `target`."""

    volume: str
    target: str


@dataclass(frozen=True)
class ComposeInfo:
    """The parts of a compose file the diagram draws, per compose service."""

    name: str | None = None
    services: tuple[str, ...] = ()
    ports: dict[str, tuple[PublishedPort, ...]] = field(default_factory=dict)
    networks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    mounts: dict[str, tuple[Mount, ...]] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)


def compose_info(project: Project) -> ComposeInfo:
    """The diagram's view of a project loaded by the runtime (compose keys, not engine names)."""
    network_keys = {spec.name: key for key, spec in project.networks.items()}
    volume_keys = {spec.name: key for key, spec in project.volumes.items()}
    ports: dict[str, tuple[PublishedPort, ...]] = {}
    networks: dict[str, tuple[str, ...]] = {}
    mounts: dict[str, tuple[Mount, ...]] = {}
    images: dict[str, str] = {}
    for name in sorted(project.services):
        service = project.services[name]
        ports[name] = tuple(PublishedPort(p.target, p.published, p.host_ip or None, p.protocol)
                            for p in service.ports)
        mode = service.network_mode  # host, none, service:NAME …
        networks[name] = tuple(sorted(network_keys.get(n, n) for n in service.networks)) or (
            (f"mode:{mode}",) if mode else ("default",))
        mounts[name] = tuple(sorted(
            (Mount(volume_keys.get(m.source, m.source), m.target)
             for m in service.mounts if m.type == "volume" and m.source),
            key=lambda m: (m.volume, m.target)))
        images[name] = service.image
    return ComposeInfo(project.name, tuple(sorted(project.services)), ports, networks, mounts,
                       images)


def load_compose_info(directory: Path) -> ComposeInfo:
    """Read a rendered project's compose file (with its .env when there is one)."""
    from archgen.runtime.compose import load_project

    return compose_info(load_project(directory, lenient=True, environ={}))


def parse_compose(data: Mapping[str, Any]) -> ComposeInfo:
    """The same view of a compose document held in memory (tests, tools)."""
    import yaml

    with tempfile.TemporaryDirectory(prefix="archgen-diagram-") as folder:
        root = Path(folder)
        document = dict(data)
        document.setdefault("name", "diagram")
        (root / "compose.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")
        return load_compose_info(root)
