"""`archgen down`: stop and remove the project's containers in reverse dependency order, in parallel.

A service is stopped as soon as every service that depends on it is gone;
independent services stop at the same time, and the replicas of one service
too. Then the project's networks go, and its volumes only with `--volumes`.
Only what carries the project's label is touched: a same-named container that
is not ours survives.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from archgen.errors import Interrupted
from archgen.runtime.engine import Engine
from archgen.runtime.model import Project
from archgen.runtime.parallel import run_all
from archgen.runtime.plan import ObservedContainer
from archgen.runtime.progress import Progress

RUNNING = ("running", "restarting", "paused")


@dataclass
class DownResult:
    """What `down` removed (and what it had to leave)."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "containers": self.containers,
            "networks": self.networks,
            "volumes": self.volumes,
            "kept": self.kept,
        }


def down(
    project: Project,
    engine: Engine,
    progress: Progress,
    *,
    volumes: bool = False,
    remove_orphans: bool = False,
    timeout: float | None = None,
) -> DownResult:
    """Remove the project from the engine; see the module docstring."""
    result = DownResult()
    cancel = threading.Event()
    lock = threading.Lock()
    found = engine.containers(project.name)
    by_service: dict[str, list[ObservedContainer]] = {}
    extra: list[ObservedContainer] = []
    for container in found:
        if container.oneoff or container.service not in project.services:
            if container.oneoff or remove_orphans:
                extra.append(container)
            else:
                result.kept.append(container.name)
            continue
        by_service.setdefault(container.service, []).append(container)
    if result.kept:
        progress.note(
            f"warning: orphan containers (their service is gone from compose.yaml) were kept: "
            f"{', '.join(result.kept)}; `archgen down --remove-orphans` removes them"
        )

    def each(containers: list[ObservedContainer], action: Callable[[ObservedContainer], None]) -> None:
        if len(containers) == 1:
            action(containers[0])
        elif containers:
            with ThreadPoolExecutor(max_workers=len(containers)) as pool:
                list(pool.map(action, containers))

    def remove_one(container: ObservedContainer) -> None:
        engine.remove(container.id)
        with lock:
            result.containers.append(container.name)

    def remove(containers: list[ObservedContainer], grace: float | None) -> None:
        each(containers, lambda c: None if cancel.is_set() else engine.stop(c.id, grace))
        each(containers, remove_one)

    done = {name: threading.Event() for name in project.services}

    def service_task(name: str) -> None:
        # A service's dependencies may stop as soon as it has stopped; removal runs meanwhile.
        containers = by_service.get(name, [])
        stopped = False
        try:
            # A service with nothing running (a finished job) has nothing to stop: no need to wait.
            if any(c.state in RUNNING for c in containers):
                for dependant in project.dependants(name):
                    while not done[dependant].wait(0.05):
                        if cancel.is_set():
                            return
            if containers and not cancel.is_set():
                progress.set(name, "stopping", ", ".join(c.name for c in containers))
                grace = timeout if timeout is not None else project.services[name].stop_grace_period
                each(containers, lambda c: engine.stop(c.id, grace))
                stopped = True
        finally:
            done[name].set()
        if stopped:
            progress.set(name, "removing")
            each(containers, remove_one)
            progress.set(name, "removed")

    tasks: dict[str, Callable[[], None]] = {name: partial(service_task, name) for name in project.services}
    if extra:
        tasks[" orphans"] = partial(remove, extra, timeout)
    errors, interrupted = run_all(tasks, cancel)
    if interrupted:
        raise Interrupted("interrupted: stopped removing; `archgen down` again finishes the job")
    if errors:
        raise next(iter(errors.values()))
    networks = engine.project_networks(project.name)
    # Independent of one another: removed together, as the containers were.
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(networks)))) as pool:
        refusals = list(pool.map(engine.remove_network, networks))
    for network, refused in zip(networks, refusals, strict=True):
        if refused:
            progress.note(f"warning: network {network} was kept: {refused}")
        else:
            result.networks.append(network)
    if volumes:
        for volume in engine.project_volumes(project.name):
            refused = engine.remove_volume(volume)
            if refused:
                progress.note(f"warning: volume {volume} was kept: {refused}")
            else:
                result.volumes.append(volume)
    return result
