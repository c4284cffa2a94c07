"""`archgen exec`: run a command in a service's running container; also the stream plumbing `run` shares.

Through the SDK's low-level `exec_create`/`exec_start`. Without stdin the output
is streamed (stdout and stderr kept apart unless there is a TTY); with stdin the
raw socket is used and both directions are pumped, the local terminal in raw mode
when a TTY was asked for. The command's exit code is returned.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from archgen.errors import ArgumentError, EngineError
from archgen.runtime.engine import Engine, engine_call


@dataclass(frozen=True)
class ExecOptions:
    """What `archgen exec` was asked for."""

    command: tuple[str, ...]
    index: int = 1
    tty: bool = False
    interactive: bool = False
    user: str | None = None
    workdir: str | None = None
    environment: dict[str, str] = field(default_factory=dict)


def parse_env(items: Sequence[str]) -> dict[str, str]:
    """`-e KEY=VAL` (or `-e KEY`, taken from archgen's own environment) -> a mapping."""
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise ArgumentError(f"-e: expected KEY=VALUE, got {item!r}")
        if eq:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def find_container(engine: Engine, project: str, service: str, index: int) -> str:
    """The ID of replica `index` of `service`, which must be running."""
    found = [c for c in engine.containers(project) if c.service == service and not c.oneoff]
    if not found:
        raise EngineError(
            f"service {service!r} of project {project} has no container", hint="`archgen up` creates it"
        )
    match = next((c for c in found if (c.number or 0) == index), None)
    if match is None:
        numbers = ", ".join(str(c.number) for c in sorted(found, key=lambda c: c.number or 0))
        raise ArgumentError(f"service {service!r} has no container number {index} (it has: {numbers})")
    if match.state != "running":
        raise EngineError(f"container {match.name} is not running (it is {match.state})",
                          hint=f"`archgen up {service}` starts it")  # fmt: skip
    return match.id


def exec_command(engine: Engine, project: str, service: str, options: ExecOptions) -> int:
    """Run the command in the container; return its exit code."""
    if not options.command:
        raise ArgumentError("exec: no command given", hint=f"archgen exec {service} sh")
    container_id = find_container(engine, project, service, options.index)
    with engine_call(f"running {options.command[0]!r} in service {service!r}"):
        exec_id = engine.api.exec_create(
            container_id,
            list(options.command),
            stdout=True,
            stderr=True,
            stdin=options.interactive,
            tty=options.tty,
            environment=options.environment or None,
            workdir=options.workdir,
            user=options.user or "",
        )["Id"]
        if options.interactive:
            sock = engine.api.exec_start(exec_id, tty=options.tty, socket=True)
            size = terminal_size() if options.tty else None
            if size is not None:
                with contextlib.suppress(Exception):  # best effort: the command may have ended already
                    engine.api.exec_resize(exec_id, height=size[1], width=size[0])
            with raw_terminal(options.tty):
                pump_socket(sock, tty=options.tty)
        else:
            stream = engine.api.exec_start(exec_id, tty=options.tty, stream=True, demux=not options.tty)
            write_stream(stream, tty=options.tty)
        code = engine.api.exec_inspect(exec_id).get("ExitCode")
    return int(code) if isinstance(code, int) else 1


def write_stream(stream: Iterator[Any], *, tty: bool) -> None:
    """Copy an SDK output stream (demuxed pairs, or raw chunks with a TTY) to stdout/stderr."""
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for chunk in stream:
        if tty or isinstance(chunk, bytes):
            out.write(chunk)
            out.flush()
            continue
        stdout, stderr = chunk
        if stdout:
            out.write(stdout)
            out.flush()
        if stderr:
            err.write(stderr)
            err.flush()


def pump_socket(sock: Any, *, tty: bool, stdin: BinaryIO | None = None) -> None:
    """Forward stdin to the socket and its output to stdout/stderr until the remote side closes."""
    raw = getattr(sock, "_sock", sock)
    source = stdin or sys.stdin.buffer

    def feed() -> None:
        fd = source.fileno()
        try:
            while True:
                data = os.read(fd, 4096)
                if not data:
                    break
                raw.sendall(data)
        except OSError:
            return
        with contextlib.suppress(OSError):
            raw.shutdown(1)  # SHUT_WR: the command sees end of input

    threading.Thread(target=feed, daemon=True).start()
    out, err = sys.stdout.buffer, sys.stderr.buffer
    buffer = b""
    while True:
        ready, _, _ = select.select([raw], [], [], 0.5)
        if not ready:
            continue
        data = raw.recv(65536)
        if not data:
            break
        if tty:
            out.write(data)
            out.flush()
            continue
        buffer += data
        while len(buffer) >= 8:  # the engine's multiplexed frames: stream, 3 zero bytes, size
            size = int.from_bytes(buffer[4:8], "big")
            if len(buffer) < 8 + size:
                break
            target = err if buffer[0] == 2 else out
            target.write(buffer[8 : 8 + size])
            target.flush()
            buffer = buffer[8 + size :]


def terminal_size() -> tuple[int, int] | None:
    """(columns, lines) of the terminal on stdout; None when it is not one."""
    try:
        size = os.get_terminal_size(sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        return None
    return size.columns, size.lines


@contextmanager
def raw_terminal(enabled: bool) -> Iterator[None]:
    """Put the local terminal in raw mode for the block (when it is one and `enabled`)."""
    if not enabled or not sys.stdin.isatty():
        yield
        return
    import termios
    import tty

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
