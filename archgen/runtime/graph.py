"""The `depends_on` graph: reference checks, cycle detection, dependency order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from archgen.errors import ComposeError
from archgen.runtime.model import CONDITION_HEALTHY, Service


def check_dependencies(services: Mapping[str, Service], enabled: set[str]) -> None:
    """Refuse unknown or disabled dependencies, waits on a disabled healthcheck, and cycles."""
    for svc in services.values():
        for dep in svc.depends_on:
            if dep.service not in services:
                if dep.required:
                    raise ComposeError(f"services.{svc.name}.depends_on: unknown service {dep.service!r}")
                continue
            if svc.name in enabled and dep.service not in enabled and dep.required:
                raise ComposeError(
                    f"services.{svc.name}.depends_on: {dep.service!r} is not enabled by the active profiles",
                    hint=f"activate one of its profiles ({', '.join(services[dep.service].profiles)})",
                )
            if dep.condition == CONDITION_HEALTHY:
                hc = services[dep.service].healthcheck
                if hc is not None and hc.disabled:
                    raise ComposeError(
                        f"services.{svc.name}.depends_on.{dep.service}: waits for {dep.service!r} to be "
                        f"healthy, but its healthcheck is disabled"
                    )
    cycle = find_cycle(
        {name: [d.service for d in s.depends_on if d.service in services] for name, s in services.items()}
    )
    if cycle:
        raise ComposeError(f"dependency cycle: {' -> '.join(cycle)}")


def find_cycle(graph: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one cycle as a path that starts and ends on the same node, or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def dependency_order(services: Mapping[str, Service]) -> list[str]:
    """Services with their dependencies first; ties keep file order. Assumes no cycle."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in services[name].depends_on:
            if dep.service in services:
                visit(dep.service)
        done.append(name)

    for name in services:
        visit(name)
    return done
