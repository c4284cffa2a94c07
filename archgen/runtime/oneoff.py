"""`archgen run`: a one-off container from a service's config, with its dependencies up first.

The container gets the service's image, environment, mounts and networks, but
not the service's network aliases (other containers keep reaching the service,
not the one-off), no published ports unless asked (`--service-ports`), no
restart policy and no fixed `container_name`. It is labelled
`io.archgen.oneoff=True`, so `up` never counts it as a replica and `down`
removes it, and named `<project>-<service>-run-<short id>`.
"""

from __future__ import annotations

import contextlib
import secrets
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from archgen.errors import ArgumentError, EngineError
from archgen.runtime.container_spec import CreateArgs, create_args
from archgen.runtime.engine import Engine, engine_call
from archgen.runtime.exec import pump_socket, raw_terminal, terminal_size, write_stream
from archgen.runtime.health import Waiter, WaitFailure
from archgen.runtime.model import (
    CONDITION_COMPLETED,
    CONDITION_HEALTHY,
    LABEL_CONFIG_HASH,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    Project,
    Service,
    config_hash,
)


@dataclass(frozen=True)
class RunOptions:
    """What `archgen run` was asked for."""

    command: tuple[str, ...] = ()
    entrypoint: tuple[str, ...] | None = None
    environment: dict[str, str] = field(default_factory=dict)
    remove: bool = False
    service_ports: bool = False
    tty: bool = False
    interactive: bool = False
    user: str | None = None
    workdir: str | None = None
    name: str | None = None


def oneoff_service(service: Service, options: RunOptions) -> Service:
    """The service's config as the one-off container runs it (pure)."""
    return replace(
        service,
        command=options.command or service.command,
        entrypoint=options.entrypoint if options.entrypoint is not None else service.entrypoint,
        environment={**service.environment, **options.environment},
        ports=service.ports if options.service_ports else (),
        networks={net: () for net in service.networks},
        restart="no",
        container_name=None,
        replicas=1,
        tty=options.tty,
        stdin_open=options.interactive,
        user=options.user if options.user is not None else service.user,
        working_dir=options.workdir if options.workdir is not None else service.working_dir,
    )


def oneoff_args(project: Project, service: Service, options: RunOptions, suffix: str) -> CreateArgs:
    """Create-time arguments of the one-off container (pure, given the random `suffix`)."""
    one = oneoff_service(service, options)
    args = create_args(project, one, 1, "")
    args.name = options.name or f"{project.name}-{service.name}-run-{suffix}"
    labels = dict(args.config["labels"])
    labels[LABEL_ONEOFF] = "True"
    labels[LABEL_CONFIG_HASH] = config_hash(one, None)
    labels.pop(LABEL_NUMBER, None)
    args.config["labels"] = labels
    args.config["stdin_open"] = options.interactive
    args.config["tty"] = options.tty
    args.config["detach"] = False  # attached: with stdin_open the SDK sets AttachStdin and StdinOnce
    return args


def wait_for_dependencies(project: Project, engine: Engine, service: Service, timeout: float | None) -> None:
    """Wait for the one-off's own `depends_on` conditions (healthy, completed) on running containers."""
    deadline = time.monotonic() + timeout if timeout else None
    waiter = Waiter(engine, threading.Event(), deadline, timeout)
    containers = engine.containers(project.name)
    for dep in service.depends_on:
        if dep.condition not in (CONDITION_HEALTHY, CONDITION_COMPLETED):
            continue
        for container in containers:
            if container.service != dep.service or container.oneoff:
                continue
            try:
                if dep.condition == CONDITION_HEALTHY:
                    waiter.healthy(container.id, container.name)
                else:
                    waiter.completed(container.id, container.name)
            except WaitFailure as failure:
                raise EngineError(
                    f"dependency {dep.service!r} did not {dep.condition.removeprefix('service_')}: {failure}"
                ) from None


def prepare(project: Project, engine: Engine, service: Service, on_line: Callable[[str], None]) -> None:
    """Make sure the one-off can be created: its image (built or pulled when missing), networks, volumes."""
    if engine.image_id(service.image) is None:
        if service.build is not None:
            engine.build(service, project.name, on_line)
        else:
            engine.pull(service.image, (service.name,), on_line)
    with engine_call("listing networks and volumes"):
        networks = {n["Name"] for n in engine.api.networks()}
        volumes = {v["Name"] for v in (engine.api.volumes().get("Volumes") or [])}
    for spec in project.networks.values():
        if spec.name in service.networks and spec.name not in networks:
            if spec.external:
                raise EngineError(f"external network {spec.name} does not exist")
            engine.create_network(spec, project.name)
    wanted = {m.source for m in service.mounts if m.type == "volume" and m.source}
    for volume in project.volumes.values():
        if volume.name in wanted and volume.name not in volumes:
            if volume.external:
                raise EngineError(f"external volume {volume.name} does not exist")
            engine.create_volume(volume, project.name)


@dataclass
class RunResult:
    """The one-off container and how it ended."""

    name: str
    id: str
    exit_code: int
    removed: bool


def run_oneoff(project: Project, engine: Engine, service_name: str, options: RunOptions) -> RunResult:
    """Create, start and attach to the one-off container; wait for it and return its exit code."""
    if service_name not in project.services:
        raise ArgumentError(
            f"no such service: {service_name}", hint=f"services: {', '.join(project.services)}"
        )
    service = project.services[service_name]
    args = oneoff_args(project, service, options, secrets.token_hex(6))
    api = engine.api
    container_id = engine.create_from_args(project, oneoff_service(service, options), args)
    removed = False
    try:
        with engine_call(f"running one-off container {args.name}"):
            if options.interactive:
                sock = api.attach_socket(
                    container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
                )
                engine.start(container_id, service_name, args.name)
                size = terminal_size() if options.tty else None
                if size is not None:
                    with contextlib.suppress(Exception):  # best effort: it may have ended already
                        api.resize(container_id, height=size[1], width=size[0])
                with raw_terminal(options.tty):
                    pump_socket(sock, tty=options.tty)
            else:
                stream = api.attach(
                    container_id, stdout=True, stderr=True, stream=True, logs=True, demux=not options.tty
                )
                engine.start(container_id, service_name, args.name)
                write_stream(stream, tty=options.tty)
            status = api.wait(container_id)
        code = int(status.get("StatusCode", 1)) if isinstance(status, dict) else int(status)
    except KeyboardInterrupt:
        engine.stop(container_id, 1)
        code = 130
    finally:
        sys.stdout.flush()
        if options.remove:
            engine.remove(container_id)
            removed = True
    return RunResult(args.name, container_id, code, removed)
