"""The compose writer: workloads → the data the shared `compose` part prints as `compose.yaml`.

One writer for every architecture. Values are written so that YAML 1.1 and 1.2
readers (docker compose, PyYAML, archgen's runtime) read the same strings: a value
that could be read as anything but itself is double-quoted.
"""

from __future__ import annotations

import json
import re
import textwrap
from typing import Any

from archgen.model.graph import Architecture
from archgen.model.workload import Workload
from archgen.variables import Secret, Var, compose_value

_PLAIN = re.compile(r"^[A-Za-z0-9_./$][^#]*$")
_WIDTH = 92


def scalar(value: object) -> str:
    """One YAML scalar, quoted only where a plain one could be misread."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if _PLAIN.match(text) and ": " not in text and not text.endswith((" ", ":")) \
            and _reads_back(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def _reads_back(text: str) -> bool:
    import yaml

    try:
        return bool(yaml.safe_load(text) == text)  # YAML 1.1: also catches yes/no/on and 22:22
    except yaml.YAMLError:
        return False


def _flow(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(scalar(v) for v in values) + "]"


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, _WIDTH - len(indent) - 2)]


class _Body:
    """The lines of one service, each key preceded by its comment when the workload has one."""

    def __init__(self, workload: Workload) -> None:
        self.lines: list[str] = []
        self.comments = dict(workload.field_comments)

    def key(self, key: str, value: str | None = None, *, indent: str = "    ") -> None:
        note = self.comments.get(key)
        if note:
            self.lines += _comment(note, indent)
        self.lines.append(f"{indent}{key}:" + (f" {value}" if value is not None else ""))

    def item(self, text: str, *, indent: str = "      ") -> None:
        self.lines.append(f"{indent}{text}")


def service_lines(workload: Workload) -> list[str]:
    """The body of one compose service (indented under `services:`)."""
    body = _Body(workload)
    w = workload
    if w.profiles:
        body.key("profiles", _flow(w.profiles))
    if w.build is not None:
        body.key("build")
        body.item(f"context: {scalar(w.build.context)}")
        if w.build.target:
            body.item(f"target: {scalar(w.build.target)}")
    body.key("image", scalar(w.image))
    if w.entrypoint is not None:
        body.key("entrypoint", json.dumps(list(w.entrypoint)))
    if w.command is not None:
        body.key("command", json.dumps(list(w.command)))
    security = w.security
    if security.user is not None:
        body.key("user", json.dumps(security.user))
    if w.environment:
        body.key("environment")
        for name, value in w.environment:
            note = body.comments.get(f"environment.{name}")
            if note:
                body.lines += _comment(note, "      ")
            body.item(f"{name}: {scalar(compose_value(value))}")
    if w.secrets:
        # Read-only files at /run/secrets/<name>: the environment above names only their paths.
        body.key("secrets", _flow([s.name for s in w.secrets]))
    if w.ports:
        body.key("ports")
        for port in w.ports:
            body.item(f"- {scalar(f'{_host(port.bind)}:{port.published}:{port.container}')}")
    if w.mounts:
        body.key("volumes")
        for mount in w.mounts:
            if mount.comment:
                body.lines += _comment(mount.comment, "      ")
            spec = f"{mount.source}:{mount.target}" + (":ro" if mount.read_only else "")
            body.item(f"- {scalar(spec)}")
    if security.tmpfs:
        body.key("tmpfs")
        for path in security.tmpfs:
            body.item(f"- {scalar(path)}")
    if security.read_only:
        body.key("read_only", "true")
    if security.cap_drop:
        body.key("cap_drop", _flow(security.cap_drop))
    if security.cap_add:
        body.key("cap_add", _flow(security.cap_add))
    if security.no_new_privileges:
        body.key("security_opt")
        body.item("- no-new-privileges:true")
    if w.init:
        body.key("init", "true")
    if w.labels:
        body.key("labels")
        for label, value in w.labels:
            body.item(f"{label}: {json.dumps(value)}")
    body.key("networks", _flow(w.networks))
    if w.depends_on:
        body.key("depends_on")
        for dependency in w.depends_on:
            body.item(f"{dependency.service}:")
            body.item(f"  condition: {dependency.condition}")
    if w.healthcheck_disabled:
        body.key("healthcheck")
        body.item("disable: true")
    elif w.healthcheck is not None:
        body.key("healthcheck", json.dumps(w.healthcheck.as_compose()))
    body.key("restart", json.dumps(w.restart) if w.restart == "no" else w.restart)
    if w.stop_grace_period:
        body.key("stop_grace_period", w.stop_grace_period)
    if w.memory:
        body.key("deploy")
        body.item("resources:")
        body.item("  limits:")
        body.item(f"    memory: {w.memory}")
    return body.lines


def _host(bind: str) -> str:
    return f"[{bind}]" if ":" in bind else bind


def env_variables(architecture: Architecture) -> list[Var]:
    """Every variable the compose file reads: secrets first (in order of use), then settings."""
    found: dict[str, Var] = {}
    for workload in architecture.workloads:
        for var in workload.variables:
            found.setdefault(var.name, var)
    return sorted(found.values(), key=lambda v: not v.secret)


def project_secrets(architecture: Architecture) -> list[Secret]:
    """Every secret a workload mounts, in order of first use: one file each under `secrets/`."""
    found: dict[str, Secret] = {}
    for workload in architecture.workloads:
        for item in workload.secrets:
            found.setdefault(item.name, item)
    return list(found.values())


def compose_data(architecture: Architecture) -> dict[str, Any]:
    """What the `compose` part prints: each service's comment and body, networks, volumes, secrets."""
    services = []
    volumes: list[str] = []
    for workload in architecture.workloads:
        comment = [line for text in workload.comment for line in _comment(text, "  ")]
        services.append({"name": workload.name, "comment": comment,
                         "body": "\n".join(service_lines(workload))})
        volumes += [v for v in workload.volumes if v not in volumes]
    variables = [{"name": v.name, "value": v.default or "", "comment": v.comment}
                 for v in env_variables(architecture)]
    # File secrets: the one kind docker-compose 1.x, Compose v2 and archgen's runtime all
    # mount (bind-mounted read-only at /run/secrets/<name>).
    secrets = [{"name": s.name, "file": s.file, "variable": s.variable, "comment": s.comment}
               for s in project_secrets(architecture)]
    return {"services": services, "networks": list(architecture.networks), "volumes": volumes,
            "variables": variables, "secrets": secrets}
