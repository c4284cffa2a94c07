"""Live states for `diagram --live`: the project's containers, read once through the Docker SDK."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from archgen.diagram._graph import ServiceState
from archgen.errors import DockerUnavailableError, EngineError

LABEL_PROJECT = "io.archgen.project"
LABEL_SERVICE = "io.archgen.service"
DEFAULT_SOCKET = "unix:///var/run/docker.sock"

_HEALTH = re.compile(r"\((healthy|unhealthy|health: starting)\)")
_EXIT = re.compile(r"Exited \((-?\d+)\)")


def _unavailable(reason: object) -> DockerUnavailableError:
    host = os.environ.get("DOCKER_HOST")
    where = f"{host} (from DOCKER_HOST)" if host else f"{DEFAULT_SOCKET} (the default socket)"
    text = str(reason)
    detail = ""
    if "No such file" in text or "FileNotFoundError" in text:
        detail = ": no such socket"
    elif "Permission denied" in text:
        detail = ": permission denied"
    elif "Connection refused" in text:
        detail = ": connection refused"
    return DockerUnavailableError(
        f"cannot reach the Docker engine at {where}{detail}",
        hint="start the engine (`sudo systemctl start docker`, or `sudo dockerd &`), "
        + ("or unset DOCKER_HOST" if host else "or set DOCKER_HOST to a running engine")
        + "; `archgen diagram` without --live needs no engine",
    )


def docker_api() -> Any:
    """Connect to the engine named by the environment; its low-level APIClient."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=10)
    except DockerException as error:
        raise _unavailable(error) from None
    return client.api


def _state(entry: dict[str, Any]) -> ServiceState:
    state = str(entry.get("State") or "unknown").lower()
    status = str(entry.get("Status") or "")
    match = _HEALTH.search(status)
    health = None
    if match:
        health = "starting" if match.group(1) == "health: starting" else match.group(1)
    code = _EXIT.search(status)
    return ServiceState(state, health, int(code.group(1)) if code else None)


def live_states(project: str, api_factory: Callable[[], Any] = docker_api) -> dict[str, list[ServiceState]]:
    """Map each service label of `project` to the states of its containers (one list call)."""
    import requests
    from docker.errors import APIError, DockerException

    api = api_factory()
    try:
        entries = api.containers(all=True, filters={"label": [f"{LABEL_PROJECT}={project}"]})
    except requests.exceptions.ConnectionError as error:
        raise _unavailable(error) from None
    except APIError as error:
        raise EngineError(f"listing containers failed: {error.explanation or error}") from None
    except (requests.exceptions.RequestException, DockerException) as error:
        raise _unavailable(error) from None
    states: dict[str, list[ServiceState]] = {}
    for entry in entries:
        labels = entry.get("Labels") or {}
        service = labels.get(LABEL_SERVICE)
        if service and labels.get(LABEL_PROJECT) == project:
            states.setdefault(str(service), []).append(_state(entry))
    return {service: states[service] for service in sorted(states)}
