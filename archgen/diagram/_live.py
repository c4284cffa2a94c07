"""Live states for `diagram --live`: the project's containers, read once through the runtime's engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from archgen.diagram._graph import ServiceState

if TYPE_CHECKING:
    from archgen.runtime.engine import Engine


def _connect() -> Engine:
    from archgen.runtime.engine import Engine

    return Engine.connect(timeout=10)


def live_states(project: str, connect: Callable[[], Engine] = _connect) -> dict[str, list[ServiceState]]:
    """Map each service of `project` to the states of its containers (one list call)."""
    states: dict[str, list[ServiceState]] = {}
    for container in connect().containers(project):
        if container.service and container.project == project:
            states.setdefault(container.service, []).append(
                ServiceState(container.state.lower() or "unknown", container.health,
                             container.exit_code))
    return {service: states[service] for service in sorted(states)}
