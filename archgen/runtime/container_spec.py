"""Pure translation of one service replica into the Docker SDK's create-time arguments (no engine needed)."""

from __future__ import annotations

import io
import math
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any

from archgen.runtime.model import (
    LABEL_CONFIG_HASH,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_SERVICE,
    Project,
    Service,
    project_labels,
)


@dataclass
class CreateArgs:
    """Keyword arguments for `APIClient.create_host_config`, `.create_container_config` and friends.

    Attributes:
        name: the container name.
        host: for `create_host_config`.
        config: for `create_container_config` (without `host_config`/`networking_config`).
        networks: engine network name -> endpoint kwargs (`aliases`, `links`, `ipv4_address`...),
            the first one attached at create time, the rest connected before start.
        platform: for `create_container_from_config`.
        copies: files to copy into the container before it starts: (kind:name, FileMount).
    """

    name: str
    host: dict[str, Any]
    config: dict[str, Any]
    networks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    platform: str | None = None
    copies: list[tuple[str, Any]] = field(default_factory=list)


def create_args(project: Project, service: Service, number: int, config_hash: str) -> CreateArgs:
    """Everything `Engine.create_container` passes to the SDK for replica `number` of `service`."""
    name = project.container_name(service.name, number)
    labels = {
        **service.labels,
        **project_labels(project.name),
        LABEL_SERVICE: service.name,
        LABEL_NUMBER: str(number),
        LABEL_CONFIG_HASH: config_hash,
        LABEL_ONEOFF: "False",
    }
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in service.ports:
        published = "" if port.published is None else str(port.published)
        bindings.setdefault(f"{port.target}/{port.protocol}", []).append(
            {"HostIp": port.host_ip, "HostPort": published}
        )
    exposed = {(p.target, p.protocol) for p in service.ports}
    exposed |= {(int(e.split("/")[0]), e.split("/")[1]) for e in service.expose}
    restart = None
    if service.restart not in ("no", ""):
        policy, _, count = service.restart.partition(":")
        restart = {"Name": policy, "MaximumRetryCount": int(count or 0)}
    binds = [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in service.mounts if m.source]
    binds += [f"{f.source}:{f.target}:ro" for f in service.files if f.source]
    networks = list(service.networks.items())
    network_mode = _namespace(project, service.network_mode)
    host: dict[str, Any] = {
        "port_bindings": bindings or None,
        "binds": binds or None,
        "tmpfs": dict(service.tmpfs) or None,
        "restart_policy": restart,
        "network_mode": network_mode or (networks[0][0] if networks else None),
        "cap_add": list(service.cap_add) or None,
        "cap_drop": list(service.cap_drop) or None,
        "security_opt": list(service.security_opt) or None,
        "init": service.init,
        "read_only": service.read_only or None,
        "nano_cpus": int(service.cpus * 1e9) if service.cpus else None,
        "mem_limit": service.memory,
        "pids_limit": service.pids,
        "ulimits": [{"name": k, "soft": s, "hard": h} for k, (s, h) in service.ulimits.items()] or None,
        "sysctls": dict(service.sysctls) or None,
        "extra_hosts": list(service.extra_hosts) or None,
        "ipc_mode": _namespace(project, service.ipc),
        "pid_mode": _namespace(project, service.pid),
        "shm_size": service.shm_size,
        "privileged": service.privileged or None,
        "devices": list(service.devices) or None,
        "dns": list(service.dns) or None,
        "dns_search": list(service.dns_search) or None,
        "dns_opt": list(service.dns_opt) or None,
        "log_config": None
        if service.logging is None
        else {"type": service.logging.driver or "", "config": dict(service.logging.options)},
        "runtime": service.runtime,
        "group_add": list(service.group_add) or None,
        "mem_reservation": service.mem_reservation,
        "memswap_limit": service.memswap_limit,
        "cpu_shares": service.cpu_shares,
        "cpuset_cpus": service.cpuset,
        "oom_score_adj": service.oom_score_adj,
    }
    config: dict[str, Any] = {
        "image": service.image,
        "command": list(service.command) if service.command is not None else None,
        "entrypoint": list(service.entrypoint) if service.entrypoint is not None else None,
        "environment": dict(service.environment) or None,
        "user": service.user,
        "working_dir": service.working_dir,
        "hostname": service.hostname,
        "domainname": service.domainname,
        "labels": labels,
        "ports": sorted(exposed) or None,
        "volumes": [m.target for m in service.mounts if not m.source] or None,
        "stop_signal": service.stop_signal,
        "stop_timeout": None if service.stop_grace_period is None else math.ceil(service.stop_grace_period),
        "tty": service.tty,
        "stdin_open": service.stdin_open,
        "detach": True,
    }
    pairs = (link.partition(":") for link in service.links)
    links = [(project.container_name(other, 1), alias) for other, _, alias in pairs]
    endpoints: list[tuple[str, dict[str, Any]]] = []
    for i, (net, aliases) in enumerate(networks):
        endpoint: dict[str, Any] = {"aliases": list(aliases)}
        v4, v6 = service.network_ips.get(net, ("", ""))
        if v4:
            endpoint["ipv4_address"] = v4
        if v6:
            endpoint["ipv6_address"] = v6
        if links and i == 0:
            endpoint["links"] = links
        endpoints.append((net, endpoint))
    copies = [(f"{f.kind}:{f.name}", f) for f in service.files if f.source is None]
    # `image` and `command` are positional in the SDK's ContainerConfig: always passed, even as None.
    config = {**_set(config), "command": config["command"]}
    return CreateArgs(name, _set(host), config, endpoints, service.platform, copies)


def _namespace(project: Project, mode: str | None) -> str | None:
    """`service:NAME` -> `container:<its first container>`; the engine resolves the name to an ID."""
    if mode and mode.startswith("service:"):
        return f"container:{project.container_name(mode[8:], 1)}"
    return mode


def _set(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if v is not None}


def file_archive(project: Project, copies: list[tuple[str, Any]]) -> bytes:
    """A tar of the copied secrets and configs, rooted at `/`, with their uid, gid and mode."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for key, mount in copies:
            content = project.contents[key]
            info = tarfile.TarInfo(mount.target.lstrip("/"))
            info.size = len(content)
            info.mode = mount.mode if mount.mode is not None else 0o444
            info.uid = int(mount.uid) if mount.uid and mount.uid.isdigit() else 0
            info.gid = int(mount.gid) if mount.gid and mount.gid.isdigit() else 0
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
