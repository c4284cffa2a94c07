"""`archgen build` and `archgen pull`: the images of the project's services, outside `up`."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from archgen.errors import ArchgenError, ArgumentError, EngineError, Interrupted
from archgen.runtime.engine import Engine
from archgen.runtime.model import Project, Service
from archgen.runtime.parallel import run_all
from archgen.runtime.progress import Progress

PULL_POLICIES = ("always", "missing")


@dataclass
class ImagesResult:
    """Per image reference: what was done (built, pulled, present, failed) and the services using it."""

    images: dict[str, dict[str, object]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"images": self.images, "warnings": self.warnings}


def selected(project: Project, services: Sequence[str]) -> list[Service]:
    """The named services (all active ones when none are named)."""
    unknown = [s for s in services if s not in project.services]
    if unknown:
        raise ArgumentError(
            f"no such service: {', '.join(unknown)}", hint=f"services: {', '.join(project.services)}"
        )
    return [project.services[n] for n in (services or project.active)]


def pull_targets(services: Sequence[Service]) -> dict[str, tuple[str, ...]]:
    """Image reference -> the services that pull it (build services are built, not pulled)."""
    refs: dict[str, tuple[str, ...]] = {}
    for service in services:
        if service.build is None:
            refs[service.image] = (*refs.get(service.image, ()), service.name)
    return refs


def build_images(
    project: Project,
    engine: Engine,
    progress: Progress,
    services: Sequence[str] = (),
    *,
    no_cache: bool = False,
    pull: bool = False,
) -> ImagesResult:
    """Build the `build:` services among `services`, in parallel, streaming each build's output."""
    targets = [s for s in selected(project, services) if s.build is not None]
    result = ImagesResult()
    if not targets:
        result.warnings.append("no service to build: none of them has `build:`")
        return result

    def build(service: Service) -> None:
        progress.set(service.name, "building", service.image)
        image_id = engine.build(
            service, project.name, partial(progress.line, service.name), no_cache=no_cache, pull=pull
        )
        result.images[service.image] = {"action": "built", "services": [service.name], "id": image_id}
        progress.set(service.name, "built", service.image)

    _run(progress, {s.name: partial(build, s) for s in targets}, "building")
    return result


def pull_images(
    project: Project,
    engine: Engine,
    progress: Progress,
    services: Sequence[str] = (),
    *,
    policy: str = "always",
    ignore_failures: bool = False,
) -> ImagesResult:
    """Pull the images of non-build services in parallel; `missing` skips those already present."""
    refs = pull_targets(selected(project, services))
    result = ImagesResult()
    lock = threading.Lock()

    def pull(ref: str, users: tuple[str, ...]) -> None:
        present = engine.image_id(ref) is not None
        if policy == "missing" and present:
            progress.set(users[0], "present", ref)
            with lock:
                result.images[ref] = {"action": "present", "services": list(users)}
            return
        progress.set(users[0], "pulling", ref)
        try:
            engine.pull(ref, users, partial(progress.line, users[0]), missing=not present)
        except ArchgenError as error:
            progress.set(users[0], "failed", ref)
            with lock:
                result.images[ref] = {"action": "failed", "services": list(users), "error": error.message}
            raise
        with lock:
            result.images[ref] = {"action": "pulled", "services": list(users)}
        progress.set(users[0], "pulled", ref)

    errors = _run(progress, {ref: partial(pull, ref, users) for ref, users in refs.items()}, "pulling",
                  raise_errors=not ignore_failures)  # fmt: skip
    for error in errors.values():
        result.warnings.append(error.message if isinstance(error, ArchgenError) else str(error))
    return result


def _run(progress: Progress, tasks: dict[str, partial[None]], verb: str, *, raise_errors: bool = True
         ) -> dict[str, BaseException]:  # fmt: skip
    cancel = threading.Event()
    errors, interrupted = run_all(tasks, cancel)
    if interrupted:
        raise Interrupted(f"interrupted while {verb} images")
    unexpected = [e for e in errors.values() if not isinstance(e, ArchgenError)]
    if unexpected:
        raise unexpected[0]
    if errors and raise_errors:
        messages = [e.message for e in errors.values() if isinstance(e, ArchgenError)]
        first = next(iter(errors.values()))
        hint = first.hint if isinstance(first, ArchgenError) else None
        if len(messages) == 1:
            raise EngineError(messages[0], hint=hint)
        raise EngineError("\n".join(messages), hint=hint)
    return errors
