"""`archgen up`: execute a plan in parallel, in dependency order, and wait for conditions.

Order of work: images (builds and pulls, in parallel), then the plan is computed
again with the final image IDs, then networks and volumes, then one thread per
service. A service thread waits for its `depends_on` conditions only when it has
containers to (re)create or start, so an unchanged project costs four list
calls and nothing else. Health waits are shared: a service that several others
wait on is probed once (see `health` for how "healthy" is reached fast).

On failure the failing service is named with its exit code or last health output
and its last log lines; everything else is left running for inspection.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from archgen.errors import ArchgenError, EngineError, Interrupted
from archgen.runtime.engine import START_INTERVAL_API, Engine
from archgen.runtime.health import Cancelled, Waiter, WaitFailure, probe_command
from archgen.runtime.model import CONDITION_COMPLETED, CONDITION_HEALTHY, CONDITION_STARTED, Project, Service
from archgen.runtime.parallel import Once, run_all
from archgen.runtime.plan import (
    CREATE,
    KEEP,
    RECREATE,
    REMOVE,
    START,
    ContainerStep,
    ImageStep,
    Options,
    Plan,
    ResourceStep,
    compute_plan,
)
from archgen.runtime.progress import Progress

LOG_LINES = 20


@dataclass(frozen=True)
class UpOptions:
    """Everything `archgen up` was asked for."""

    plan: Options = field(default_factory=Options)
    wait: bool = False
    timeout: float | None = 300.0
    dry_run: bool = False


@dataclass
class ServiceResult:
    name: str
    state: str
    containers: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None


@dataclass
class UpResult:
    """What `up` did (or, with `--dry-run`, would do)."""

    plan: Plan
    dry_run: bool
    services: dict[str, ServiceResult] = field(default_factory=dict)
    elapsed: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "project": self.plan.project,
            "dry_run": self.dry_run,
            "changed": self.plan.changes,
            "elapsed": round(self.elapsed, 3),
            "plan": self.plan.as_dict(),
            "services": {
                name: {"state": r.state, "containers": r.containers, "error": r.error}
                for name, r in self.services.items()
            },
        }


class DependencyFailed(Exception):
    """A service was not started because a dependency failed."""

    def __init__(self, dependency: str) -> None:
        super().__init__(dependency)
        self.dependency = dependency


def up(project: Project, engine: Engine, options: UpOptions, progress: Progress) -> UpResult:
    """Converge the engine to `project`; see the module docstring."""
    return _Converger(project, engine, options, progress).run()


class _Converger:
    def __init__(self, project: Project, engine: Engine, options: UpOptions, progress: Progress) -> None:
        self.project = project
        self.engine = engine
        self.options = options
        self.progress = progress
        self.cancel = threading.Event()
        self.waiter = Waiter(engine, self.cancel, None, options.timeout)
        self.started = {name: threading.Event() for name in project.active}
        self.failed: dict[str, BaseException] = {}
        # `--wait`: containers that only had to be running (no healthcheck, nothing awaits
        # them): (service, container id, name, is a job), checked once more at the end.
        self.running_only: list[tuple[str, str, str, bool]] = []
        self.states: dict[str, str] = {}
        self.containers: dict[str, list[tuple[str, str]]] = {}
        self.actions: dict[str, list[dict[str, str]]] = {}
        self._once: dict[tuple[str, str], Once] = {}
        self._created: dict[tuple[str, int], str] = {}  # (service, number) -> created, not started
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ phases

    def run(self) -> UpResult:
        begin = time.monotonic()
        state = self.engine.observe(self.project)
        plan = compute_plan(self.project, state, self.options.plan)
        if self.options.dry_run:
            return UpResult(plan, True, elapsed=time.monotonic() - begin)
        for warning in self.project.warnings:
            self.progress.note(f"warning: {warning}")
        if plan.images:
            self._images(plan.images)
            plan = compute_plan(self.project, self.engine.observe(self.project), self.options.plan)
        self._note_degraded(plan)
        for note in plan.notes:
            self.progress.note(f"note: {note}")
        self._resources(plan)
        self._orphans(plan)
        if self.options.timeout is not None:
            self.waiter.deadline = time.monotonic() + self.options.timeout
        if not plan.changes and not self.options.wait:
            for name in plan.order:
                self.states[name] = "up to date"
                self.containers[name] = [(s.container_id or "", s.name) for s in plan.containers[name]]
        else:
            tasks = {name: partial(self._service, name, plan.containers[name]) for name in plan.order}
            crashed, interrupted = run_all(tasks, self.cancel, self._interrupted)
            if interrupted:
                raise Interrupted(
                    "interrupted: stopped waiting; containers already started were left as they are",
                    hint="`archgen status` shows them, `archgen up` continues, `archgen down` removes them",
                )
            if self.options.wait and not self.failed:
                self._still_running()
            if self.failed:
                raise self._failure()
            if crashed:
                raise next(iter(crashed.values()))  # a bug, not a failure the threads report: never silent
        return UpResult(plan, False, self._results(), time.monotonic() - begin)

    def _interrupted(self) -> None:
        self.progress.note("interrupted: finishing the operations in flight (Ctrl-C again to abort)")

    def _note_degraded(self, plan: Plan) -> None:
        changed = plan.changed_services()
        uses = [
            s.name
            for s in self.project.active_services()
            if s.healthcheck and s.healthcheck.start_interval and s.name in changed
        ]
        if uses and not self.engine.at_least(START_INTERVAL_API):
            self.progress.note(
                f"note: healthcheck start_interval needs Docker API {START_INTERVAL_API} and this engine "
                f"speaks {self.engine.version}: left out for {', '.join(uses)}; archgen probes the "
                "healthchecks itself while it waits"
            )

    def _images(self, steps: list[ImageStep]) -> None:
        def build(step: ImageStep) -> None:
            service = self.project.services[step.services[0]]
            for name in step.services:
                self._set(name, "building", step.image)
            self.engine.build(service, self.project.name, partial(self.progress.line, service.name))
            for name in step.services:
                self._set(name, "built", step.image)

        def pull(step: ImageStep) -> None:
            for name in step.services:
                self._set(name, "pulling", step.image)
            self.engine.pull(step.image, step.services, partial(self.progress.line, step.services[0]))
            for name in step.services:
                self._set(name, "pulled", step.image)

        tasks = {f"{s.action} {s.image}": partial(build if s.action == "build" else pull, s) for s in steps}
        errors, interrupted = run_all(tasks, self.cancel, self._interrupted)
        if interrupted:
            raise Interrupted("interrupted while preparing images; no container was changed")
        if errors:
            for step in steps:
                if f"{step.action} {step.image}" in errors:
                    for name in step.services:
                        self._set(name, "failed", step.action)
            first = next(iter(errors.values()))
            if isinstance(first, ArchgenError):
                if len(errors) > 1:
                    raise EngineError("\n\n".join(_message(e) for e in errors.values()), hint=first.hint)
                raise first
            raise first

    def _resources(self, plan: Plan) -> None:
        networks = {n.name: n for n in self.project.networks.values()}
        volumes = {v.name: v for v in self.project.volumes.values()}

        def create(step: ResourceStep) -> None:
            if step.kind == "network":
                self.engine.create_network(networks[step.name], self.project.name)
            else:
                self.engine.create_volume(volumes[step.name], self.project.name)
            self.progress.note(f"created {step.kind} {step.name}")

        steps = [s for s in plan.resources if s.action == "create"]
        if len(steps) == 1:
            create(steps[0])
        elif steps:
            with ThreadPoolExecutor(max_workers=len(steps)) as pool:
                list(pool.map(create, steps))  # independent of each other; list() re-raises

    def _orphans(self, plan: Plan) -> None:
        left = [o.name for o in plan.orphans if o.action != REMOVE]
        if left:
            self.progress.note(
                f"warning: orphan containers (their service is gone from compose.yaml): {', '.join(left)}; "
                "`archgen up --remove-orphans` removes them"
            )
        for orphan in plan.orphans:
            if orphan.action == REMOVE and orphan.container_id:
                self.engine.stop(orphan.container_id, None)
                self.engine.remove(orphan.container_id)
                self.progress.note(f"removed orphan container {orphan.name}")

    # ---------------------------------------------------------------- services

    def _service(self, name: str, steps: list[ContainerStep]) -> None:
        service = self.project.services[name]
        try:
            for step in steps:
                if step.action == REMOVE and step.container_id:
                    self._set(name, "removing", step.name)
                    self.engine.stop(step.container_id, service.stop_grace_period)
                    self.engine.remove(step.container_id)
                    self._record(name, step, step.container_id)
            touching = [s for s in steps if s.action in (RECREATE, CREATE, START)]
            ids = [(s.container_id or "", s.name) for s in steps if s.action == KEEP]
            if touching and service.depends_on and not (service.links or service.shared_namespaces()):
                self._precreate(service, touching)
            if touching:
                for dep in service.depends_on:
                    if dep.service in self.started:
                        self._set(name, "waiting", f"for {dep.service} to {_short(dep.condition)}")
                        self._condition(dep.service, dep.condition)
                if self.cancel.is_set():
                    raise Cancelled
                verb = (
                    "recreating"
                    if any(s.action == RECREATE for s in touching)
                    else ("creating" if any(s.action == CREATE for s in touching) else "starting")
                )
                self._set(name, verb, ", ".join(s.name for s in touching))
                ids += self._apply_all(service, touching)
            self.containers[name] = sorted(ids, key=lambda pair: pair[1])
            for step in steps:
                if step.action == KEEP:
                    self._record(name, step, step.container_id or "")
            self.started[name].set()
            if self.options.wait:
                self._ready(service)
            elif self.states.get(name) not in ("healthy", "completed"):
                self._set(name, "running" if touching else "up to date")
        except DependencyFailed as error:
            self.failed.setdefault(name, error)
            self._set(name, "skipped", f"{error.dependency} failed")
        except Cancelled:
            self._set(name, "interrupted")
        except (WaitFailure, ArchgenError) as error:
            with self._lock:
                self.failed.setdefault(name, error)
            self._set(name, "failed", _short_reason(error))
        finally:
            self.started[name].set()

    def _precreate(self, service: Service, steps: list[ContainerStep]) -> None:
        """Create new containers before their dependencies are ready; only starting them waits.

        Creating takes a round of engine work per level of the dependency chain that
        nothing needs to wait for (Compose also creates first, then starts in order).
        Not done for links or shared namespaces: those resolve the other container at
        create time.
        """
        for step in steps:
            if step.action == CREATE:
                self._created[(service.name, step.number)] = self.engine.create_container(
                    self.project, service, step.number, step.config_hash or ""
                )

    def _apply_all(self, service: Service, steps: list[ContainerStep]) -> list[tuple[str, str]]:
        if len(steps) == 1:
            return [self._apply(service, steps[0])]
        with ThreadPoolExecutor(max_workers=len(steps)) as pool:
            return list(pool.map(partial(self._apply, service), steps))

    def _apply(self, service: Service, step: ContainerStep) -> tuple[str, str]:
        if step.action == START and step.container_id:
            self.engine.start(step.container_id, service.name, step.name)
            self._record(service.name, step, step.container_id)
            return step.container_id, step.name
        if step.action == RECREATE and step.container_id:
            self.engine.stop(step.container_id, service.stop_grace_period)
            self.engine.remove(step.container_id)
        container_id = self._created.pop((service.name, step.number), None) or self.engine.create_container(
            self.project, service, step.number, step.config_hash or ""
        )
        self.engine.start(container_id, service.name, step.name)
        self._record(service.name, step, container_id)
        return container_id, step.name

    def _condition(self, service: str, condition: str) -> None:
        event = self.started[service]
        while not event.wait(0.05):
            if self.cancel.is_set():
                raise Cancelled
        if service in self.failed:
            raise DependencyFailed(service)
        if condition == CONDITION_STARTED:
            return
        with self._lock:
            once = self._once.setdefault((service, condition), Once())
        try:
            once.run(partial(self._await, service, condition))
        except (WaitFailure, ArchgenError):
            raise DependencyFailed(service) from None

    def _await(self, name: str, condition: str) -> None:
        healthy = condition == CONDITION_HEALTHY
        self._set(name, "waiting for health" if healthy else "waiting to complete")
        try:
            for container_id, container in self.containers.get(name, []):
                if healthy:
                    self.waiter.healthy(container_id, container)
                else:
                    self.waiter.completed(container_id, container)
        except (WaitFailure, ArchgenError) as error:
            with self._lock:
                self.failed.setdefault(name, error)
            self._set(name, "failed", _short_reason(error))
            raise
        self._set(name, "healthy" if healthy else "completed")

    def _ready(self, service: Service) -> None:
        """`--wait`: healthy if it has a healthcheck, completed if others await that, else running."""
        conditions = self.project.awaited_conditions(service.name)
        pairs = self.containers.get(service.name, [])
        condition = None
        if CONDITION_COMPLETED in conditions:
            condition = CONDITION_COMPLETED
        elif pairs and self._has_healthcheck(pairs[0][0]):
            condition = CONDITION_HEALTHY
        if condition is not None:
            with self._lock:
                once = self._once.setdefault((service.name, condition), Once())
            once.run(partial(self._await, service.name, condition))
            return
        for container_id, container in pairs:
            self.waiter.running(container_id, container, job=service.is_job)
            with self._lock:
                self.running_only.append((service.name, container_id, container, service.is_job))
        self._set(service.name, "running")

    def _still_running(self) -> None:
        """`--wait`: fail for a container seen running that has exited since.

        A job that exits non-zero right after its start was "running" when first looked at;
        `docker compose up --wait` reports it as failed, so does archgen.
        """
        for service, container_id, container, job in self.running_only:
            state = self.engine.inspect(container_id).get("State") or {}
            if state.get("Status") not in ("exited", "dead"):
                continue
            code = int(state.get("ExitCode") or 0)
            if job and code == 0:
                continue
            error = WaitFailure(container, container_id, f"exited with code {code}", exit_code=code)
            self.failed.setdefault(service, error)
            self._set(service, "failed", _short_reason(error))

    def _has_healthcheck(self, container_id: str) -> bool:
        config = (self.engine.inspect(container_id).get("Config") or {}).get("Healthcheck") or {}
        return probe_command(list(config.get("Test") or [])) is not None

    # --------------------------------------------------------------- reporting

    def _set(self, name: str, state: str, detail: str = "") -> None:
        self.states[name] = state
        self.progress.set(name, state, detail)

    def _record(self, service: str, step: ContainerStep, container_id: str) -> None:
        with self._lock:
            self.actions.setdefault(service, []).append(
                {"name": step.name, "id": container_id[:12], "action": step.action}
            )

    def _results(self) -> dict[str, ServiceResult]:
        return {
            name: ServiceResult(name, self.states.get(name, "up to date"), self.actions.get(name, []))
            for name in self.project.active
        }

    def _failure(self) -> ArchgenError:
        roots = {n: e for n, e in self.failed.items() if not isinstance(e, DependencyFailed)}
        skipped = [n for n, e in self.failed.items() if isinstance(e, DependencyFailed)]
        parts = [self._describe(name, error) for name, error in roots.items()]
        if skipped:
            parts.append("not started because a dependency failed: " + ", ".join(sorted(skipped)))
        hints = [e.hint for e in roots.values() if isinstance(e, ArchgenError) and e.hint]
        hint = (
            hints[0]
            if hints
            else (
                "the other containers were left running for inspection; `archgen logs SERVICE` shows more, "
                "`archgen down` removes the project"
            )
        )
        return EngineError("\n".join(parts), hint=hint)

    def _describe(self, name: str, error: BaseException) -> str:
        if not isinstance(error, WaitFailure):
            return _message(error)
        lines = [f"service {name!r} failed: {error}"]
        if error.health_output:
            lines.append(f"last health check output: {error.health_output}")
        tail = self.engine.log_tail(error.container_id, LOG_LINES)
        if tail:
            lines.append(f"last {len(tail)} log lines of {error.name}:")
            lines.extend(f"  | {line}" for line in tail)
        else:
            lines.append(f"{error.name} wrote no log output")
        return "\n".join(lines)


def _message(error: BaseException) -> str:
    return error.message if isinstance(error, ArchgenError) else str(error)


def _short(condition: str) -> str:
    verbs = {CONDITION_STARTED: "start", CONDITION_HEALTHY: "be healthy", CONDITION_COMPLETED: "complete"}
    return verbs[condition]


def _short_reason(error: BaseException) -> str:
    if isinstance(error, WaitFailure):
        return error.reason
    return _message(error).splitlines()[0][:80]
