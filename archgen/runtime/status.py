"""`archgen status`: the project's containers with state, the engine's health, ports, UI and uptime."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from archgen.runtime.engine import Engine

_FRACTION = re.compile(r"\.(\d+)")


@dataclass(frozen=True)
class ContainerStatus:
    """One row of `archgen status`; `health` is the engine's own state (None: no healthcheck)."""

    service: str
    container: str
    number: int
    state: str
    health: str | None
    ports: list[str] = field(default_factory=list)
    uptime: float | None = None
    exit_code: int | None = None
    id: str = ""
    oneoff: bool = False  # an `archgen run` container (listed after the service's replicas)
    ui: dict[str, str] | None = None  # {name, url}: the local UI this container serves

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["uptime"] = None if self.uptime is None else round(self.uptime, 1)
        return data


def project_status(engine: Engine, project: str, *, now: datetime | None = None) -> list[ContainerStatus]:
    """Inspect every container of `project` (in parallel), sorted by service and number."""
    containers = engine.containers(project)
    if not containers:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(containers))) as pool:
        infos = list(pool.map(lambda c: engine.inspect(c.id), containers))
    moment = now or datetime.now(UTC)
    rows = []
    for container, info in zip(containers, infos, strict=True):
        state = info.get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        started = parse_time(str(state.get("StartedAt") or ""))
        running = state.get("Status") == "running"
        rows.append(
            ContainerStatus(
                service=container.service or "?",
                container=container.name,
                number=container.number or 0,
                state=str(state.get("Status") or container.state),
                health=health,
                ports=published_ports(info),
                uptime=(moment - started).total_seconds() if running and started else None,
                exit_code=None if running else state.get("ExitCode"),
                id=container.id[:12],
                oneoff=container.oneoff,
                ui=container_ui(info),
            )
        )
    return sorted(rows, key=lambda r: (r.service, r.oneoff, r.number, r.container))


def container_ui(info: dict[str, Any]) -> dict[str, str] | None:
    """The UI the container serves, from the labels the model gives it (`model.uis`)."""
    from archgen.model.uis import UI_NAME_LABEL, UI_URL_LABEL

    labels = (info.get("Config") or {}).get("Labels") or {}
    url = labels.get(UI_URL_LABEL)
    return {"name": str(labels.get(UI_NAME_LABEL) or ""), "url": str(url)} if url else None


def published_ports(info: dict[str, Any]) -> list[str]:
    ports = ((info.get("NetworkSettings") or {}).get("Ports")) or {}
    out = []
    for private, bindings in sorted(ports.items()):
        for binding in bindings or []:
            host = binding.get("HostIp") or "0.0.0.0"
            if host == "::":
                continue  # the IPv6 twin of a 0.0.0.0 binding
            out.append(f"{host}:{binding.get('HostPort')}->{private}")
    return out


def parse_time(text: str) -> datetime | None:
    """Parse the engine's RFC 3339 timestamps (nanoseconds, `Z`); None for the zero time."""
    if not text or text.startswith("0001-"):
        return None
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text.replace("Z", "+00:00"), count=1)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def human_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def render_table(rows: list[ContainerStatus]) -> str:
    """Aligned plain-text columns (pipe-friendly); a UI column when some container serves one."""
    with_ui = any(r.ui for r in rows)
    head = ("SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS", "UPTIME", *(("UI",) if with_ui else ()))
    body = [
        (
            r.service + (" (run)" if r.oneoff else ""),
            r.container,
            r.state + (f" ({r.exit_code})" if r.exit_code is not None and r.state == "exited" else ""),
            r.health or "-",
            ", ".join(r.ports) or "-",
            human_duration(r.uptime),
            *((f"{r.ui['name']} {r.ui['url']}" if r.ui else "-",) if with_ui else ()),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in [head, *body]
    )
