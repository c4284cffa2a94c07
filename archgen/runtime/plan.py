"""Pure planning: compose model + observed engine state -> what `up` must do, and why.

Nothing here talks to Docker. `EngineState` is a plain snapshot (the engine
adapter fills it; unit tests build it by hand), and `compute_plan` returns a
`Plan` that `converge` executes and `up --dry-run` prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from archgen.errors import EngineError
from archgen.runtime.model import (
    CONDITION_COMPLETED,
    LABEL_PROJECT,
    NetworkSpec,
    Project,
    Service,
    VolumeSpec,
    config_hash,
    resource_hash,
)

# Container actions, in the order `converge` applies them within one service.
REMOVE, RECREATE, CREATE, START, KEEP = "remove", "recreate", "create", "start", "keep"
ORPHAN = "orphan"  # an orphan left in place (no --remove-orphans)


@dataclass(frozen=True)
class ObservedContainer:
    """One container as the engine lists it (labels already decoded)."""

    id: str
    name: str
    state: str  # created | running | restarting | paused | exited | dead
    project: str | None = None
    service: str | None = None
    number: int | None = None
    config_hash: str | None = None
    oneoff: bool = False
    image_id: str = ""
    exit_code: int | None = None
    health: str | None = None


@dataclass(frozen=True)
class ObservedResource:
    """One network or volume; `project` is its `io.archgen.project` label (None: not ours)."""

    name: str
    project: str | None = None
    config_hash: str | None = None


@dataclass
class EngineState:
    """A snapshot of what the engine holds that matters to one project.

    Attributes:
        containers: every container the engine lists (ours and others).
        networks: networks by name.
        volumes: volumes by name.
        images: image reference (`repo:tag`) -> image ID, for references present locally.
    """

    containers: list[ObservedContainer] = field(default_factory=list)
    networks: dict[str, ObservedResource] = field(default_factory=dict)
    volumes: dict[str, ObservedResource] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)

    def ours(self, project: str) -> list[ObservedContainer]:
        return [c for c in self.containers if c.project == project and not c.oneoff]


@dataclass(frozen=True)
class Options:
    """What the user asked `up` for."""

    build: bool = False
    pull: str | None = None  # missing | always | never; None: each service's pull_policy
    force_recreate: bool = False
    remove_orphans: bool = False


@dataclass(frozen=True)
class ImageStep:
    action: str  # build | pull
    image: str
    services: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ResourceStep:
    kind: str  # network | volume
    name: str
    action: str  # create | keep
    reason: str = ""


@dataclass(frozen=True)
class ContainerStep:
    service: str
    number: int
    name: str
    action: str  # remove | recreate | create | start | keep | orphan
    reason: str = ""
    container_id: str | None = None
    config_hash: str | None = None


@dataclass
class Plan:
    """Everything `up` will do, in the order it will do it.

    Attributes:
        project: the project name.
        order: active services with dependencies first.
        images: builds and pulls.
        resources: networks and volumes to create or keep.
        containers: per service, the steps for each replica number.
        orphans: containers of services no longer in the file.
        notes: things the user should know (e.g. a network whose config changed).
    """

    project: str
    order: list[str]
    images: list[ImageStep] = field(default_factory=list)
    resources: list[ResourceStep] = field(default_factory=list)
    containers: dict[str, list[ContainerStep]] = field(default_factory=dict)
    orphans: list[ContainerStep] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        """True when executing the plan changes anything on the engine."""
        return (
            bool(self.images)
            or any(r.action != KEEP for r in self.resources)
            or any(s.action != KEEP for steps in self.containers.values() for s in steps)
            or any(o.action == REMOVE for o in self.orphans)
        )

    def changed_services(self) -> list[str]:
        return [s for s in self.order if any(step.action != KEEP for step in self.containers.get(s, []))]

    def as_dict(self) -> dict[str, object]:
        return {
            "project": self.project,
            "changes": self.changes,
            "order": self.order,
            "images": [asdict(i) for i in self.images],
            "resources": [asdict(r) for r in self.resources],
            "containers": {s: [asdict(step) for step in steps] for s, steps in self.containers.items()},
            "orphans": [asdict(o) for o in self.orphans],
            "notes": self.notes,
        }

    def render(self) -> str:
        """The plan as aligned text lines (what `up --dry-run` prints)."""
        rows: list[tuple[str, str, str, str]] = []
        for img in self.images:
            rows.append((img.action, ",".join(img.services), img.image, img.reason))
        for res in self.resources:
            rows.append((res.action, res.kind, res.name, res.reason))
        for service in self.order:
            for step in self.containers.get(service, []):
                rows.append((step.action, service, step.name, step.reason))
        for orphan in self.orphans:
            rows.append((orphan.action, orphan.service, orphan.name, orphan.reason))
        head = f"plan for project {self.project}: " + ("changes" if self.changes else "nothing to change")
        if not rows:
            return head
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [head]
        for row in rows:
            cells = [row[i].ljust(widths[i]) for i in range(3)]
            lines.append("  " + "  ".join(cells) + (f"  ({row[3]})" if row[3] else ""))
        lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(line.rstrip() for line in lines)


def compute_plan(project: Project, state: EngineState, options: Options | None = None) -> Plan:
    """Decide every step `up` takes, from the compose model and the engine's state.

    Raises:
        EngineError: a same-named container, network or volume that is not ours, an
            external network or volume that does not exist, or an image that is
            missing under pull policy `never`.
    """
    options = options or Options()
    plan = Plan(project=project.name, order=list(project.active))
    conflicts: list[str] = []
    plan.images = _image_steps(project, state, options)
    plan.resources = _resource_steps(project, state, conflicts, plan.notes)
    ours = state.ours(project.name)
    foreign = {c.name: c for c in state.containers if c.project != project.name}
    for service in project.active_services():
        image_id = state.images.get(service.image)  # None while a build or pull is pending
        desired = config_hash(service, image_id)
        existing = [c for c in ours if c.service == service.name]
        plan.containers[service.name] = _container_steps(
            project, service, existing, foreign, desired, image_id, options, conflicts
        )
    _follow_shared_namespaces(project, plan)
    for container in ours:
        if container.service not in project.services:
            action = REMOVE if options.remove_orphans else ORPHAN
            reason = "service no longer in compose.yaml" + (
                "" if options.remove_orphans else "; --remove-orphans removes it"
            )
            plan.orphans.append(
                ContainerStep(
                    container.service or "?",
                    container.number or 0,
                    container.name,
                    action,
                    reason,
                    container.id,
                )
            )
    if conflicts:
        raise EngineError(
            "resources with archgen's names exist but do not belong to project "
            f"{project.name!r}:\n" + "\n".join(f"  {c}" for c in conflicts),
            hint="archgen never reuses or removes what it did not create; "
            "rename or remove them, or use -p NAME",
        )
    return plan


def _follow_shared_namespaces(project: Project, plan: Plan) -> None:
    """A container that joins another's network, IPC or PID namespace goes with it when that one is replaced.

    The engine binds `container:<name>` to the container's ID at create time, so
    once the other container is recreated the kept one would hold a dead namespace.
    """
    replaced: set[str] = set()
    for name in project.active:  # dependency order: a namespace's owner comes first
        steps = plan.containers.get(name, [])
        owners = [s for s in project.services[name].shared_namespaces() if s in replaced]
        if owners:
            why = f"joins the namespaces of {', '.join(owners)}, which is replaced"
            steps[:] = [
                ContainerStep(s.service, s.number, s.name, RECREATE, why, s.container_id, s.config_hash)
                if s.action in (KEEP, START) and s.container_id
                else s
                for s in steps
            ]
        if any(s.action in (RECREATE, CREATE) for s in steps):
            replaced.add(name)


def _image_steps(project: Project, state: EngineState, options: Options) -> list[ImageStep]:
    builds: dict[str, tuple[list[str], str]] = {}
    pulls: dict[str, tuple[list[str], str]] = {}
    missing_never: list[str] = []
    for service in project.active_services():
        present = service.image in state.images
        if service.build is not None:
            if options.build or service.pull_policy == "build":
                builds.setdefault(service.image, ([], "--build" if options.build else "pull_policy: build"))[
                    0
                ].append(service.name)
            elif not present:
                builds.setdefault(service.image, ([], "image not present"))[0].append(service.name)
            continue
        policy = options.pull or service.pull_policy or "missing"
        if policy == "always":
            pulls.setdefault(service.image, ([], "pull policy always"))[0].append(service.name)
        elif not present:
            if policy == "never":
                missing_never.append(f"{service.image} (service {service.name!r})")
            else:
                pulls.setdefault(service.image, ([], "image not present"))[0].append(service.name)
    if missing_never:
        raise EngineError(
            "images not present and the pull policy is 'never': " + ", ".join(missing_never),
            hint="build or load them first, or use --pull missing",
        )
    steps = [ImageStep("build", ref, tuple(svcs), why) for ref, (svcs, why) in builds.items()]
    steps += [
        ImageStep("pull", ref, tuple(svcs), why) for ref, (svcs, why) in pulls.items() if ref not in builds
    ]
    return steps


def _resource_steps(
    project: Project, state: EngineState, conflicts: list[str], notes: list[str]
) -> list[ResourceStep]:
    steps: list[ResourceStep] = []
    used_volumes = {m.source for s in project.active_services() for m in s.mounts if m.type == "volume"}
    specs: list[tuple[str, NetworkSpec | VolumeSpec, dict[str, ObservedResource]]] = [
        ("network", spec, state.networks) for spec in project.networks.values()
    ]
    specs += [
        ("volume", spec, state.volumes) for spec in project.volumes.values() if spec.name in used_volumes
    ]
    for kind, spec, observed in specs:
        found = observed.get(spec.name)
        if spec.external:
            if found is None:
                conflicts.append(f"external {kind} {spec.name!r} does not exist (create it first)")
            continue
        if found is None:
            steps.append(ResourceStep(kind, spec.name, "create", "missing"))
        elif found.project != project.name:
            owner = f"project {found.project!r}" if found.project else f"not labelled {LABEL_PROJECT}"
            conflicts.append(f"{kind} {spec.name!r} exists and is not ours ({owner})")
        else:
            steps.append(ResourceStep(kind, spec.name, KEEP))
            if found.config_hash and found.config_hash != resource_hash(spec):
                notes.append(
                    f"{kind} {spec.name} changed in compose.yaml; `archgen down` then `up` applies it"
                )
    return steps


def _container_steps(
    project: Project,
    service: Service,
    existing: list[ObservedContainer],
    foreign: dict[str, ObservedContainer],
    desired: str,
    image_id: str | None,
    options: Options,
    conflicts: list[str],
) -> list[ContainerStep]:
    steps: list[ContainerStep] = []
    by_number: dict[int, ObservedContainer] = {}
    for container in sorted(existing, key=lambda c: (c.number or 0, c.name)):
        if container.number is None or container.number in by_number or container.number > service.replicas:
            why = f"scale down to {service.replicas}" if container.number else "duplicate replica"
            steps.append(
                ContainerStep(service.name, container.number or 0, container.name, REMOVE, why, container.id)
            )
        else:
            by_number[container.number] = container
    for number in range(1, service.replicas + 1):
        name = project.container_name(service.name, number)
        other = foreign.get(name)
        if other is not None and number not in by_number:
            owner = f"project {other.project!r}" if other.project else f"not labelled {LABEL_PROJECT}"
            conflicts.append(f"container {name!r} exists and is not ours ({owner})")
            continue
        current = by_number.get(number)
        if current is None:
            steps.append(ContainerStep(service.name, number, name, CREATE, "missing", None, desired))
        elif options.force_recreate:
            steps.append(
                ContainerStep(service.name, number, name, RECREATE, "--force-recreate", current.id, desired)
            )
        elif current.config_hash != desired:
            if image_id is None:
                why = "image will change"
            elif current.image_id and current.image_id != image_id:
                why = "image changed"
            else:
                why = "config hash changed"
            steps.append(ContainerStep(service.name, number, name, RECREATE, why, current.id, desired))
        elif current.state in ("running", "restarting"):
            steps.append(ContainerStep(service.name, number, name, KEEP, "", current.id, desired))
        elif current.state == "paused":
            steps.append(ContainerStep(service.name, number, name, KEEP, "paused", current.id, desired))
        elif current.state == "exited" and current.exit_code == 0 and _finished_job(project, service):
            steps.append(ContainerStep(service.name, number, name, KEEP, "completed", current.id, desired))
        else:
            why = f"{current.state}" + (
                f" (exit {current.exit_code})" if current.exit_code is not None else ""
            )
            steps.append(ContainerStep(service.name, number, name, START, why, current.id, desired))
    order = {REMOVE: 0, RECREATE: 1, CREATE: 1, START: 1, KEEP: 1}
    return sorted(steps, key=lambda s: (order[s.action], s.number))


def _finished_job(project: Project, service: Service) -> bool:
    """A one-shot service whose exit 0 means done: nothing revives it, or others wait for it."""
    if CONDITION_COMPLETED in project.awaited_conditions(service.name):
        return True
    return service.is_job
