"""`archgen restart`: restart the project's containers in dependency order, optionally waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from archgen.errors import ArgumentError, EngineError
from archgen.runtime.engine import Engine
from archgen.runtime.health import Waiter, WaitFailure, probe_command
from archgen.runtime.model import CONDITION_COMPLETED, Project
from archgen.runtime.plan import ObservedContainer
from archgen.runtime.progress import Progress


@dataclass
class RestartResult:
    """Containers restarted, by service, in the order they were restarted."""

    services: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"order": list(self.services), "services": self.services}


def restart_order(project: Project, services: Sequence[str]) -> list[str]:
    """The named services (all active ones when none), dependencies first."""
    unknown = [s for s in services if s not in project.services]
    if unknown:
        raise ArgumentError(
            f"no such service: {', '.join(unknown)}", hint=f"services: {', '.join(project.services)}"
        )
    wanted = set(services) if services else set(project.active)
    return [name for name in project.active if name in wanted] + [
        name for name in services if name not in project.active
    ]


def restart(
    project: Project,
    engine: Engine,
    progress: Progress,
    services: Sequence[str] = (),
    *,
    timeout: float | None = None,
    wait: bool = False,
    wait_timeout: float | None = 300.0,
) -> RestartResult:
    """Restart each service's containers (replicas in parallel), one service after the other."""
    order = restart_order(project, services)
    found: dict[str, list[ObservedContainer]] = {}
    for container in engine.containers(project.name):
        if not container.oneoff and container.service in order:
            found.setdefault(container.service, []).append(container)
    if not found:
        raise EngineError(
            f"project {project.name} has no containers to restart"
            + (f" for {', '.join(services)}" if services else ""),
            hint="`archgen up` creates them",
        )
    result = RestartResult()
    deadline = time.monotonic() + wait_timeout if wait_timeout else None
    waiter = Waiter(engine, threading.Event(), deadline, wait_timeout)
    for name in order:
        containers = sorted(found.get(name, []), key=lambda c: c.number or 0)
        if not containers:
            continue
        grace = timeout if timeout is not None else project.services[name].stop_grace_period
        progress.set(name, "restarting", ", ".join(c.name for c in containers))
        with ThreadPoolExecutor(max_workers=len(containers)) as pool:
            list(pool.map(partial(_restart_one, engine, grace), containers))
        result.services[name] = [c.name for c in containers]
        if wait:
            _wait(project, engine, waiter, name, containers, progress)
        progress.set(name, "restarted")
    return result


def _wait(
    project: Project,
    engine: Engine,
    waiter: Waiter,
    name: str,
    containers: list[ObservedContainer],
    progress: Progress,
) -> None:
    service = project.services[name]
    try:
        for container in containers:
            config = (engine.inspect(container.id).get("Config") or {}).get("Healthcheck") or {}
            if CONDITION_COMPLETED in project.awaited_conditions(name):
                progress.set(name, "waiting to complete")
                waiter.completed(container.id, container.name)
            elif probe_command(list(config.get("Test") or [])) is not None:
                progress.set(name, "waiting for health")
                waiter.healthy(container.id, container.name)
            else:
                waiter.running(container.id, container.name, job=service.is_job)
    except WaitFailure as failure:
        tail = engine.log_tail(failure.container_id, 20)
        lines = [f"service {name!r} failed after restart: {failure}"]
        if failure.health_output:
            lines.append(f"last health check output: {failure.health_output}")
        lines += [f"  | {line}" for line in tail]
        raise EngineError("\n".join(lines), hint="`archgen logs " + name + "` shows more") from None


def _restart_one(engine: Engine, grace: float | None, container: ObservedContainer) -> None:
    engine.restart(container.id, grace)
