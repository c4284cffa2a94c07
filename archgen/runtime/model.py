"""The normalised compose model: what `compose.py` produces and every other runtime module reads.

Names are already resolved here: a service's networks and named volumes carry the
engine-side names (`<project>_<key>` unless the compose file gives `name:`), bind
sources are absolute paths, durations are seconds and sizes are bytes. That makes
the config hash a plain function of the dataclass.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from archgen import __version__

LABEL_PROJECT = "io.archgen.project"
LABEL_SERVICE = "io.archgen.service"
LABEL_NUMBER = "io.archgen.number"
LABEL_CONFIG_HASH = "io.archgen.config-hash"
LABEL_ONEOFF = "io.archgen.oneoff"
LABEL_VERSION = "io.archgen.version"
LABEL_NETWORK = "io.archgen.network"
LABEL_VOLUME = "io.archgen.volume"

CONDITION_STARTED = "service_started"
CONDITION_HEALTHY = "service_healthy"
CONDITION_COMPLETED = "service_completed_successfully"
CONDITIONS = (CONDITION_STARTED, CONDITION_HEALTHY, CONDITION_COMPLETED)


@dataclass(frozen=True)
class BuildSpec:
    """How to build a service's image (`build:`)."""

    context: str
    dockerfile: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None


@dataclass(frozen=True)
class Healthcheck:
    """A healthcheck; `test` is `None` to inherit the image's, `("NONE",)` when disabled."""

    test: tuple[str, ...] | None = None
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    start_interval: float | None = None

    @property
    def disabled(self) -> bool:
        return self.test is not None and self.test[:1] == ("NONE",)


@dataclass(frozen=True)
class PortMapping:
    """One published port: `host_ip:published -> target/protocol` (published None: any)."""

    target: int
    published: int | None = None
    host_ip: str = ""
    protocol: str = "tcp"

    def render(self) -> str:
        host = f"{self.host_ip}:" if self.host_ip else ""
        published = "" if self.published is None else str(self.published)
        return f"{host}{published}->{self.target}/{self.protocol}"


@dataclass(frozen=True)
class Mount:
    """A volume or bind mount; `source` is an engine volume name, an absolute path, or None."""

    type: str  # "volume" | "bind"
    source: str | None
    target: str
    read_only: bool = False


@dataclass(frozen=True)
class FileMount:
    """A `secrets:` or `configs:` entry placed in the container.

    `source` is a host file bind-mounted read-only, as Compose does; None when the
    content is copied into the container before it starts (environment-sourced
    secrets, inline config `content:`, or a file with `uid`/`gid`/`mode`), and then
    `digest` (sha256 of the content) puts the content in the config hash.
    """

    kind: str  # "secret" | "config"
    name: str
    target: str
    source: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None
    digest: str = ""


@dataclass(frozen=True)
class LogConfig:
    """`logging:` (driver None: the engine's default driver)."""

    driver: str | None = None
    options: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dependency:
    """One `depends_on` entry."""

    service: str
    condition: str = CONDITION_STARTED
    required: bool = True


@dataclass(frozen=True)
class Service:
    """One compose service, interpolated and normalised."""

    name: str
    image: str  # the image reference to run (for build services: the tag we build)
    build: BuildSpec | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    ports: tuple[PortMapping, ...] = ()
    expose: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    tmpfs: dict[str, str] = field(default_factory=dict)
    networks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # engine name -> aliases
    depends_on: tuple[Dependency, ...] = ()
    healthcheck: Healthcheck | None = None
    restart: str = "no"
    replicas: int = 1
    cpus: float | None = None
    memory: int | None = None
    pids: int | None = None
    user: str | None = None
    working_dir: str | None = None
    read_only: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    init: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)
    stop_grace_period: float | None = None
    stop_signal: str | None = None
    hostname: str | None = None
    profiles: tuple[str, ...] = ()
    pull_policy: str | None = None
    # Added for issue 15; all default to "unset", so older hashes do not change.
    container_name: str | None = None
    files: tuple[FileMount, ...] = ()
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (soft, hard)
    sysctls: dict[str, str] = field(default_factory=dict)
    extra_hosts: tuple[str, ...] = ()  # "host:ip"
    network_mode: str | None = None  # host | none | bridge | service:NAME | container:NAME
    network_ips: dict[str, tuple[str, str]] = field(default_factory=dict)  # engine net -> (v4, v6)
    links: tuple[str, ...] = ()  # "service:alias"
    ipc: str | None = None
    pid: str | None = None
    shm_size: int | None = None
    tty: bool = False
    stdin_open: bool = False
    privileged: bool = False
    devices: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    logging: LogConfig | None = None
    platform: str | None = None
    runtime: str | None = None
    domainname: str | None = None
    group_add: tuple[str, ...] = ()
    mem_reservation: int | None = None
    memswap_limit: int | None = None
    cpu_reservation: float | None = None  # swarm-only in Compose too: recorded, not enforced
    cpu_shares: int | None = None
    cpuset: str | None = None
    oom_score_adj: int | None = None

    def shared_namespaces(self) -> list[str]:
        """Services whose containers this one joins (`network_mode`/`ipc`/`pid: service:NAME`)."""
        return [
            mode.split(":", 1)[1]
            for mode in (self.network_mode, self.ipc, self.pid)
            if mode and mode.startswith("service:")
        ]

    @property
    def is_job(self) -> bool:
        """True when an exit with code 0 is a normal end (no restart policy that revives it)."""
        return self.restart in ("no", "") or self.restart.startswith("on-failure")


@dataclass(frozen=True)
class NetworkSpec:
    """A top-level network (or the implicit `default`)."""

    key: str
    name: str
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    internal: bool = False
    attachable: bool = False
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    ipam: dict[str, Any] = field(default_factory=dict)  # the engine's IPAM shape (Driver, Config)


@dataclass(frozen=True)
class VolumeSpec:
    """A top-level named volume."""

    key: str
    name: str
    driver: str | None = None
    driver_opts: dict[str, str] = field(default_factory=dict)
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Project:
    """A loaded compose project.

    Attributes:
        name: the project name (from `-p`, `archgen.yaml` or the compose `name:`).
        directory: the project directory; relative paths were resolved against it.
        services: every service in the file, in file order (all profiles).
        active: names of the services enabled by the active profiles, in dependency order.
        networks: networks used by active services, by compose key.
        volumes: named volumes declared in the file, by compose key.
        warnings: things worth telling the user (unset variables, ...).
    """

    name: str
    directory: Path
    services: dict[str, Service]
    active: list[str]
    networks: dict[str, NetworkSpec]
    volumes: dict[str, VolumeSpec]
    warnings: list[str] = field(default_factory=list)

    def active_services(self) -> list[Service]:
        return [self.services[name] for name in self.active]

    contents: dict[str, bytes] = field(default_factory=dict, repr=False)  # copied files by "kind:name"

    def container_name(self, service: str, number: int) -> str:
        svc = self.services.get(service)
        if svc is not None and svc.container_name:
            return svc.container_name
        return f"{self.name}-{service}-{number}"

    def dependants(self, service: str) -> list[str]:
        """Services (all of them, any profile) that depend on `service`."""
        return [s.name for s in self.services.values() if any(d.service == service for d in s.depends_on)]

    def awaited_conditions(self, service: str) -> set[str]:
        """The conditions other active services wait for on `service`."""
        return {
            d.condition
            for name in self.active
            for d in self.services[name].depends_on
            if d.service == service
        }


_NOT_HASHED = ("replicas", "depends_on", "profiles", "pull_policy", "build")


def config_hash(service: Service, image_id: str | None) -> str:
    """A stable hash of the service's resolved config plus its image ID.

    Left out: what never needs a new container (replica count, dependencies,
    profiles, pull policy) and the build recipe (its effect is the image ID).
    """
    data = asdict(service)
    for key in _NOT_HASHED:
        data.pop(key, None)
    data = _without_defaults(data)
    data["image_id"] = image_id or f"pending:{service.image}"
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _without_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Drop unset fields, so adding an optional field to the model does not change old hashes."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            value = _without_defaults(value) if key in ("healthcheck", "build", "logging") else value
        if value is None or value is False or (isinstance(value, list | tuple | dict | str) and not value):
            continue
        out[key] = value
    return out


def resource_hash(spec: NetworkSpec | VolumeSpec) -> str:
    """A stable hash of a network's or volume's config."""
    data = asdict(spec)
    if not data.get("ipam"):
        data.pop("ipam", None)  # added later: keep the hashes of networks without it
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def project_labels(project: str) -> dict[str, str]:
    return {LABEL_PROJECT: project, LABEL_VERSION: __version__}
