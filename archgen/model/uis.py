"""The project's local UIs: published on 127.0.0.1 only, listed in the README and `archgen status`.

Each tool with a UI (Prometheus, Jaeger, Grafana, the Keycloak admin console, RabbitMQ's
management UI) takes its host port from `ui_ports.<tool>` or its default below, and calls
`add_ui`; `with_ui_labels` then labels that tool's container with the UI's name and URL, which
is how `archgen status` lists them from the engine alone.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen.model.graph import Architecture

UI_BIND = "127.0.0.1"  # a UI is for this machine only, never through the edge
# Each tool's usual port (Keycloak's own 8080 is left to a proxy's common http_port).
DEFAULT_UI_PORTS = {"prometheus": 9090, "jaeger": 16686, "grafana": 3000, "rabbitmq": 15672,
                    "keycloak": 8180}
UI_NAME_LABEL = "io.archgen.ui.name"
UI_URL_LABEL = "io.archgen.ui.url"
UI_KEY_LABEL = "io.archgen.ui.key"  # the spec key of its port: named when that port is taken


def ui_port(spec: dict[str, Any], tool: str) -> int:
    """The host port of `tool`'s UI: `ui_ports.<tool>`, else its default."""
    return int((spec.get("ui_ports") or {}).get(tool, DEFAULT_UI_PORTS[tool]))


def ui_tools(spec: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """Each tool of `spec` that has a UI, with the spec path that brings it in."""
    tools: list[tuple[tuple[str | int, ...], str]] = []
    listed = spec.get("observability")
    for i, tool in enumerate(listed if isinstance(listed, list) else []):
        if tool in DEFAULT_UI_PORTS:
            tools.append((("observability", i), str(tool)))
    bus = spec.get("bus")
    if spec.get("architecture") == "microservices" and isinstance(bus, dict) \
            and bus.get("kind") == "rabbitmq":
        tools.append((("bus", "kind"), "rabbitmq"))
    if isinstance(spec.get("auth"), dict):
        tools.append((("auth",), "keycloak"))
    return tools


def ui_entry(name: str, service: str, port: int, tool: str, what: str,
             path: str = "") -> dict[str, Any]:
    """One row of `arch.uis`: the UI `name` of compose service `service` on host `port`."""
    return {"name": name, "service": service, "url": f"http://{UI_BIND}:{port}{path}",
            "key": f"ui_ports.{tool}", "what": what}


def add_ui(architecture: Architecture, name: str, service: str, port: int, tool: str,
           what: str, path: str = "") -> None:
    """List a UI in `arch.uis` (the README's table; `with_ui_labels` labels its container)."""
    architecture.context.setdefault("uis", []).append(
        ui_entry(name, service, port, tool, what, path))


def with_ui_labels(architecture: Architecture) -> Architecture:
    """Label each UI's container with the UI's name and URL (read back by `archgen status`)."""
    uis = {ui["service"]: ui for ui in architecture.context.get("uis", [])}
    if not uis:
        return architecture
    workloads = tuple(
        replace(w, labels=(*w.labels, (UI_NAME_LABEL, uis[w.name]["name"]),
                           (UI_URL_LABEL, uis[w.name]["url"]), (UI_KEY_LABEL, uis[w.name]["key"])))
        if w.name in uis else w
        for w in architecture.workloads)
    return replace(architecture, workloads=workloads)
