"""What a rendered `compose.yaml` adds to a diagram: published ports, networks, named volumes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# A compose service for replica N of a node is named `<node>-<N>` or `<node><N>`.
_REPLICA_SUFFIX = re.compile(r"^(?P<base>.+?)-?\d+$")


@dataclass(frozen=True)
class PublishedPort:
    """One `ports:` entry: host `bind`:`published` → container `target`.

    Values that use `${VAR}` interpolation are kept as the literal text.
    """

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


def _split(text: str) -> list[str]:
    """Split a port mapping on `:` outside `${…}` and `[…]` (IPv6) groups."""
    parts: list[str] = []
    depth = 0
    current = ""
    index = 0
    while index < len(text):
        char = text[index]
        if text.startswith("${", index):
            depth += 1
            current += "${"
            index += 2
            continue
        if char == "[":
            depth += 1
        elif char in "]}" and depth:
            depth -= 1
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
        index += 1
    parts.append(current)
    return parts


def _number(text: object) -> int | str:
    value = str(text).strip()
    return int(value) if value.isdigit() else value


def _port(entry: object) -> PublishedPort | None:
    if isinstance(entry, int):
        return PublishedPort(entry)
    if isinstance(entry, dict):
        target = entry.get("target")
        if target is None:
            return None
        published = entry.get("published")
        return PublishedPort(_number(target), None if published is None else _number(published),
                             entry.get("host_ip"), str(entry.get("protocol") or "tcp"))
    if not isinstance(entry, str):
        return None
    text, protocol = entry, "tcp"
    if "/" in text and not text.endswith("}"):
        text, protocol = text.rsplit("/", 1)
    parts = _split(text)
    if len(parts) == 1:
        return PublishedPort(_number(parts[0]), protocol=protocol)
    if len(parts) == 2:
        return PublishedPort(_number(parts[1]), _number(parts[0]) if parts[0] else None,
                             protocol=protocol)
    bind = ":".join(parts[:-2]).strip("[]") or None
    published = _number(parts[-2]) if parts[-2] else None
    return PublishedPort(_number(parts[-1]), published, bind, protocol)


def _networks(service: dict[str, Any]) -> tuple[str, ...]:
    raw = service.get("networks")
    if isinstance(raw, dict):
        return tuple(sorted(str(name) for name in raw))
    if isinstance(raw, list):
        return tuple(sorted(str(name) for name in raw))
    if service.get("network_mode"):
        return (f"mode:{service['network_mode']}",)
    return ("default",)


def _is_named(source: str) -> bool:
    return bool(source) and not source.startswith((".", "/", "~", "$"))


def _mounts(service: dict[str, Any]) -> tuple[Mount, ...]:
    mounts: list[Mount] = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            if entry.get("type", "volume") == "volume" and entry.get("source"):
                mounts.append(Mount(str(entry["source"]), str(entry.get("target", ""))))
        elif isinstance(entry, str):
            parts = _split(entry)
            if len(parts) >= 2 and _is_named(parts[0]):
                mounts.append(Mount(parts[0], parts[1]))
    return tuple(sorted(mounts, key=lambda m: (m.volume, m.target)))


def parse_compose(data: object) -> ComposeInfo:
    """Read ports, networks and named volumes from a loaded compose document (no interpolation)."""
    if not isinstance(data, dict):
        return ComposeInfo()
    services = data.get("services")
    if not isinstance(services, dict):
        services = {}
    ports: dict[str, tuple[PublishedPort, ...]] = {}
    networks: dict[str, tuple[str, ...]] = {}
    mounts: dict[str, tuple[Mount, ...]] = {}
    images: dict[str, str] = {}
    for name, raw in sorted(services.items(), key=lambda item: str(item[0])):
        service = raw if isinstance(raw, dict) else {}
        key = str(name)
        published = [p for p in (_port(e) for e in service.get("ports") or []) if p is not None]
        ports[key] = tuple(published)
        networks[key] = _networks(service)
        mounts[key] = _mounts(service)
        if service.get("image"):
            images[key] = str(service["image"])
    name = data.get("name")
    return ComposeInfo(str(name) if name else None, tuple(sorted(str(s) for s in services)),
                       ports, networks, mounts, images)


def node_for_service(service: str, node_ids: set[str] | frozenset[str]) -> str | None:
    """Map a compose service (or a container's service label) to the model node it runs."""
    if service in node_ids:
        return service
    match = _REPLICA_SUFFIX.match(service)
    if match and match.group("base") in node_ids:
        return match.group("base")
    return None
