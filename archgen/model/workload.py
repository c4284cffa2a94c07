"""Workloads: what runs where, typed, for every writer (compose today; Kubernetes, Swarm next).

A workload holds *references* to settings (`Var`) and secrets (`Secret`), never their
values, so a writer decides how each reaches the container: a setting as `${VAR}` from
`.env` (a ConfigMap key in Kubernetes); a secret as a file mounted at
`/run/secrets/<name>` (a compose file secret, a Kubernetes Secret volume, a Swarm
secret), its path in the environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from archgen.catalog import Healthcheck
from archgen.variables import EnvValue, Secret, Var, variables_of

STARTED = "service_started"
HEALTHY = "service_healthy"
COMPLETED = "service_completed_successfully"


@dataclass(frozen=True)
class Build:
    """Built from a folder of the project rather than pulled."""

    context: str
    target: str | None = None


@dataclass(frozen=True)
class PublishedPort:
    """A container port published on the host at `bind`:`published`."""

    name: str
    container: int
    published: int
    bind: str


@dataclass(frozen=True)
class Mount:
    """A named volume (`source` is its key) or a file/folder of the project (`./…`)."""

    source: str
    target: str
    read_only: bool = False
    comment: str = ""

    @property
    def is_volume(self) -> bool:
        return not self.source.startswith(("./", "/"))


@dataclass(frozen=True)
class Dependency:
    """Start after `service` reached `condition`."""

    service: str
    condition: str = HEALTHY


@dataclass(frozen=True)
class Security:
    """How tightly the container is locked down; `reason` says why anything is left open."""

    user: str | None = None
    read_only: bool = False
    tmpfs: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    no_new_privileges: bool = False
    reason: str = ""


@dataclass(frozen=True)
class Workload:
    """One compose service (one Kubernetes Deployment/StatefulSet, one Swarm service)."""

    name: str
    node: str  # the graph node it belongs to (diagram, status)
    kind: str  # catalog kind
    image: str
    build: Build | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: tuple[tuple[str, EnvValue], ...] = ()
    ports: tuple[PublishedPort, ...] = ()
    mounts: tuple[Mount, ...] = ()
    healthcheck: Healthcheck | None = None
    healthcheck_disabled: bool = False  # a one-shot job: its exit code is its health
    depends_on: tuple[Dependency, ...] = ()
    memory: str | None = None
    security: Security = field(default_factory=Security)
    init: bool = False
    networks: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    restart: str = "unless-stopped"
    stop_grace_period: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    stateful: bool = False  # owns data that must survive (StatefulSet, not Deployment)
    job: bool = False  # runs once and exits
    comment: tuple[str, ...] = ()  # why it looks the way it does, above its compose entry
    field_comments: tuple[tuple[str, str], ...] = ()  # key -> a comment above that key
    # Secrets a script of the workload reads by path without an environment entry naming it.
    secret_files: tuple[Secret, ...] = ()

    @property
    def variables(self) -> tuple[Var, ...]:
        found: dict[str, Var] = {}
        for _, value in self.environment:
            for var in variables_of(value):
                found.setdefault(var.name, var)
        return tuple(found.values())

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Every secret mounted into the container: `(name, variable, target)` each."""
        found = [value for _, value in self.environment if isinstance(value, Secret)]
        return tuple(dict.fromkeys([*found, *self.secret_files]))

    @property
    def volumes(self) -> tuple[str, ...]:
        return tuple(m.source for m in self.mounts if m.is_volume)


def healthy(*services: str) -> tuple[Dependency, ...]:
    return tuple(Dependency(s, HEALTHY) for s in services)
