"""`archgen logs`: the project's container output, multiplexed with a service prefix.

Without `--follow`, every selected container's past output is merged in
timestamp order. With it, one daemon thread per container streams output into a
queue that the calling thread drains; the project is polled for containers
created (or restarted) later, and the stream ends once no selected container is
running and every stream has ended, or when the caller's thread gets Ctrl-C.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from archgen.errors import ArgumentError
from archgen.runtime.engine import Engine
from archgen.runtime.plan import ObservedContainer
from archgen.runtime.values import duration

POLL = 0.5
_STAMP = re.compile(r"^(\S+)\s?(.*)$")


@dataclass(frozen=True)
class LogLine:
    """One line of output; `source` is the prefix shown (service, or service-n with replicas)."""

    source: str
    service: str
    text: str


def parse_since(text: str | None, *, now: float | None = None) -> float | None:
    """`--since`: a duration ago (`10m`, `1h30m`), a Unix time, or an RFC 3339 / ISO timestamp."""
    if text is None or text == "":
        return None
    moment = time.time() if now is None else now
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return moment - duration(text, "--since")
    except Exception:
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ArgumentError(
            f"--since: expected a duration (10m), a Unix time or a timestamp "
            f"(2024-05-01T12:00:00Z), got {text!r}"
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def labels_for(containers: list[ObservedContainer]) -> dict[str, str]:
    """Prefix per container ID: the service name, or `service-n` when it has several containers."""
    counts: dict[str, int] = {}
    for c in containers:
        counts[c.service or "?"] = counts.get(c.service or "?", 0) + 1
    return {
        c.id: (c.service or "?") if counts[c.service or "?"] == 1 else f"{c.service}-{c.number}"
        for c in containers
    }


def select(engine: Engine, project: str, services: list[str]) -> list[ObservedContainer]:
    found = [c for c in engine.containers(project) if not c.oneoff]
    if services:
        unknown = sorted(set(services) - {c.service for c in found})
        if unknown and not any(c.service in services for c in found):
            raise ArgumentError(f"no containers for service(s) {', '.join(unknown)} in project {project!r}")
        found = [c for c in found if c.service in services]
    return sorted(found, key=lambda c: (c.service or "", c.number or 0))


def past(
    engine: Engine, project: str, services: list[str], *, tail: int | str, since: float | None
) -> list[LogLine]:
    """Past output of the selected containers, merged in timestamp order."""
    containers = select(engine, project, services)
    labels = labels_for(containers)
    stamped: list[tuple[tuple[str, str], int, LogLine]] = []
    for container in containers:
        text = engine.log_text(container.id, tail=tail, since=since)
        for line in text.splitlines():
            match = _STAMP.match(line)
            stamp, body = (match.group(1), match.group(2)) if match else ("", line)
            key = _sort_key(stamp)
            stamped.append((key, len(stamped), LogLine(labels[container.id], container.service or "?", body)))
    return [line for _, _, line in sorted(stamped, key=lambda item: (item[0], item[1]))]


def _sort_key(stamp: str) -> tuple[str, str]:
    """RFC 3339 with nanoseconds trims trailing zeros; pad the fraction so strings compare."""
    head, dot, rest = stamp.partition(".")
    if not dot:
        return (head.rstrip("Z"), "000000000")
    digits = re.match(r"\d*", rest)
    return (head, (digits.group(0) if digits else "").ljust(9, "0"))


def follow(
    engine: Engine,
    project: str,
    services: list[str],
    emit: Callable[[LogLine], None],
    *,
    tail: int | str,
    since: float | None,
    stop: threading.Event | None = None,
) -> None:
    """Stream output until nothing selected runs any more (or `stop` is set); see the module docstring."""
    lines: queue.Queue[LogLine] = queue.Queue()
    stop = stop or threading.Event()
    active: dict[str, threading.Thread] = {}
    ended: dict[str, float] = {}
    first = True

    def reader(container: ObservedContainer, label: str, tail_: int | str, since_: float | None) -> None:
        buffer = b""
        try:
            for chunk in engine.log_stream(container.id, tail=tail_, since=since_):
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    lines.put(
                        LogLine(label, container.service or "?", raw.decode(errors="replace").rstrip("\r"))
                    )
        except Exception:
            pass
        if buffer:
            lines.put(LogLine(label, container.service or "?", buffer.decode(errors="replace")))

    next_poll = 0.0
    containers: list[ObservedContainer] = []
    while not stop.is_set():
        polled = False
        if time.monotonic() >= next_poll:
            containers = (
                select(engine, project, services) if first else _quiet_select(engine, project, services)
            )
            labels = labels_for(containers)
            for container in containers:
                thread = active.get(container.id)
                if thread is not None and thread.is_alive():
                    continue
                if thread is None:  # never followed: at start, honour --tail/--since; later, all of it
                    tail_, since_ = (tail, since) if first else ("all", None)
                elif container.state == "running":  # its stream ended, and it has started again
                    tail_, since_ = "all", ended.get(container.id)
                else:
                    continue
                thread = threading.Thread(
                    target=reader, args=(container, labels[container.id], tail_, since_), daemon=True
                )
                active[container.id] = thread
                thread.start()
            first = False
            polled = True
            next_poll = time.monotonic() + POLL
        try:
            emit(lines.get(timeout=0.1))
            continue
        except queue.Empty:
            pass
        for cid, thread in active.items():
            if not thread.is_alive():
                ended.setdefault(cid, time.time())
            else:
                ended.pop(cid, None)
        idle = polled and lines.empty() and not any(t.is_alive() for t in active.values())
        if idle and not any(c.state in ("running", "restarting") for c in containers):
            break
    while not lines.empty():
        emit(lines.get_nowait())


def _quiet_select(engine: Engine, project: str, services: list[str]) -> list[ObservedContainer]:
    found = [c for c in engine.containers(project) if not c.oneoff]
    return sorted(
        [c for c in found if not services or c.service in services],
        key=lambda c: (c.service or "", c.number or 0),
    )
