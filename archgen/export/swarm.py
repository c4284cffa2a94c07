"""The Swarm writer: the resolved model → a stack file for `docker stack deploy` (and `archgen deploy swarm`).

One service per unit (identical replicas of a node become one service with N
replicas, reachable under every old instance name as a network alias). Services use
DNS round-robin (`endpoint_mode: dnsrr`) and the edge publishes its ports in `host`
mode: swarm's virtual IPs and ingress routing mesh need IPVS in the kernel, which
many hosts (and every firecracker VM here) lack, and the edge balances by itself.

Settings stay `${VAR:-default}` (interpolated from `.env` by `docker stack deploy`
or by archgen). Secrets never appear in the file: each file of the project's
`secrets/` folder a workload mounts becomes an external swarm secret (created by
`create-secrets.sh`, or by `archgen deploy swarm`), mounted at /run/secrets/<name>
as compose mounts it, so the images' `*_FILE` variables name the same paths.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archgen.export._units import PRIVATE_DIRS, Unit, dns_name, units_of
from archgen.export.report import Report
from archgen.model.graph import Architecture
from archgen.model.workload import Workload
from archgen.variables import SECRETS_DIR, SECRETS_TARGET, Secret, variables_of

STACK_FILE = "stack.yaml"
NAMESPACE_LABEL = "com.docker.stack.namespace"
PROJECT_LABEL = "io.archgen.project"
SPEC_HASH_LABEL = "io.archgen.swarm.spec-hash"
# HAProxy fills this many slots per replicated upstream from DNS (scaling beyond needs a re-export).
MIN_TEMPLATE_SLOTS = 10


@dataclass
class Stack:
    """A stack file and what has to exist beside it."""

    project: str
    document: dict[str, Any]
    configs: dict[str, str] = field(default_factory=dict)  # config key -> file text
    secrets: dict[str, str] = field(default_factory=dict)  # key -> project-relative file
    builds: dict[str, str] = field(default_factory=dict)  # image -> build context it comes from

    @property
    def images(self) -> list[str]:
        return sorted({s["image"] for s in self.document["services"].values()})


def _dollar(text: str) -> str:
    """A literal for a stack file, where `$` starts an interpolation."""
    return text.replace("$", "$$")


class StackWriter:
    """Builds the stack file unit by unit, reporting what each setting became."""

    def __init__(self, architecture: Architecture, project_dir: Path, report: Report) -> None:
        self.architecture = architecture
        self.project = architecture.name
        self.root = project_dir
        self.report = report
        self.stack = Stack(self.project, {})
        self.edge_networks: set[str] = set()

    def build(self) -> Stack:
        units, skipped = units_of(self.architecture)
        for workload in skipped:
            self.report.skipped(workload.name, "a one-shot job in profile "
                                f"{', '.join(workload.profiles)}: not part of a deployment")
        edge_name = self.architecture.context.get("edge", {}).get("service")
        for unit in units:
            if unit.workload.ports and unit.name == edge_name:  # not a UI on 127.0.0.1
                self.edge_networks.update(unit.workload.networks)
        services = {unit.name: self._service(unit, units) for unit in units}
        networks = {}
        for name in sorted({n for u in units for n in u.workload.networks}):
            internal = name not in self.edge_networks
            networks[name] = {"driver": "overlay", "attachable": True,
                              **({"internal": True} if internal else {})}
            if internal:
                self.report.changed(f"network {name}", "internal",
                                    "an internal overlay: no workload with published ports is on "
                                    "it, so nothing on it is reachable from outside the swarm")
        volumes: dict[str, dict[str, Any]] = {v: {} for u in units for v in u.workload.volumes}
        document: dict[str, Any] = {"version": "3.8", "services": services, "networks": networks}
        if volumes:
            document["volumes"] = dict(sorted(volumes.items()))
        if self.stack.secrets:
            document["secrets"] = {k: {"external": True, "name": f"{self.project}_{k}"}
                                   for k in sorted(self.stack.secrets)}
        if self.stack.configs:
            document["configs"] = {k: {"file": f"./configs/{k}"} for k in sorted(self.stack.configs)}
        self.stack.document = document
        return self.stack

    def _service(self, unit: Unit, units: list[Unit]) -> dict[str, Any]:
        w = unit.workload
        name = unit.name
        service: dict[str, Any] = {"image": w.image}
        if w.build is not None:
            self.stack.builds[w.image] = w.build.context
            self.report.changed(name, "build", f"swarm does not build: {w.image} must be built "
                                f"beforehand (`archgen build`) and present on every node or "
                                "pushed to a registry the nodes pull from")
        service.update(self._process(unit))
        if unit.local_only:
            # Swarm has no bind address: publishing would open a UI, or the app's gRPC
            # (unencrypted, beside an httpd edge), on every interface.
            self.report.changed(name, "ports", f"not published: compose bound "
                                f"{', '.join(p.name for p in w.ports)} to {w.ports[0].bind} only "
                                "and swarm cannot; reach it through an SSH tunnel to a node or "
                                "a container on the stack's network")
        elif w.ports:
            service["ports"] = [{"target": p.container, "published": p.published,
                                 "protocol": "tcp", "mode": "host"} for p in w.ports]
            self.report.changed(name, "ports", "published in host mode on the node the task runs "
                                "on, bound to every address (swarm has no bind address; "
                                f"compose bound {w.ports[0].bind}); one task per node")
        networks: dict[str, Any] = {}
        for net in w.networks:
            aliases = [n for n in unit.instance_names if n != name] if unit.grouped else []
            networks[net] = {"aliases": aliases} if aliases else None
        service["networks"] = networks
        mounts, configs, secrets = self._mounts(unit)
        if mounts:
            service["volumes"] = mounts
        if configs:
            service["configs"] = configs
        if secrets or service.get("secrets"):
            service["secrets"] = sorted([*service.get("secrets", []), *secrets],
                                        key=lambda s: str(s["source"]))
        if w.healthcheck_disabled:
            service["healthcheck"] = {"disable": True}
        elif w.healthcheck is not None:
            hc = w.healthcheck.as_compose()
            hc.pop("start_interval", None)
            service["healthcheck"] = hc
            self.report.changed(name, "healthcheck.start_interval", "dropped: stack files and "
                                "engines before API 1.44 have none; swarm probes at interval")
        self._security(name, w, service)
        if w.stop_grace_period:
            service["stop_grace_period"] = w.stop_grace_period
        if w.labels:
            service["labels"] = dict(w.labels)
        service["deploy"] = self._deploy(unit)
        if w.depends_on:
            self.report.unmapped(name, "depends_on", "swarm starts every service at once and has "
                                 "no start order or conditions ("
                                 + ", ".join(f"{d.service}: {d.condition}" for d in w.depends_on)
                                 + "); the restart policy retries a task until what it needs answers")
        if w.profiles:
            self.report.unmapped(name, "profiles", "a stack has no profiles: deployed always")
        if unit.grouped:
            self.report.changed(name, "instances", f"{', '.join(unit.instance_names)} are one "
                                f"service with {unit.replicas} replicas; each old name is a "
                                "network alias resolving to every task")
        return service

    def _process(self, unit: Unit) -> dict[str, Any]:
        """entrypoint, command and environment; each secret a swarm secret at its compose path."""
        w = unit.workload
        env: dict[str, Any] = {}
        for key, value in w.environment:
            if unit.grouped and value == w.name:
                value = "{{.Task.Slot}}"  # the instance id: swarm's slot number per task
                self.report.changed(unit.name, f"environment.{key}", "the task slot "
                                    "({{.Task.Slot}}), one per replica, instead of the instance name")
            if isinstance(value, str):
                env[key] = _dollar(value)
            elif isinstance(value, Secret):
                env[key] = value.target  # the image reads the file the variable names
            else:
                env[key] = value.compose()
                for var in variables_of(value):
                    if var.secret:
                        self.report.unmapped(unit.name, f"environment.{key}", f"{var.name} is a "
                                             "value from .env, not a secret file: interpolated "
                                             "by `docker stack deploy`, so visible in "
                                             "`docker service inspect`")
        out: dict[str, Any] = {}
        # The model's commands are in compose form already (`$$` for a shell's `$`).
        if w.entrypoint is not None:
            out["entrypoint"] = list(w.entrypoint)
        if w.command is not None:
            out["command"] = list(w.command)
        if env:
            out["environment"] = env
        if w.secrets:
            # The same path as compose's file secrets: /run/secrets/<name>.
            out["secrets"] = [{"source": item.name, "target": item.name, "mode": 0o444}
                              for item in w.secrets]
            for item in w.secrets:
                self.stack.secrets[item.name] = f"{SECRETS_DIR}/{item.name}"
            self.report.mapped(unit.name, "secrets", "swarm secrets "
                               + ", ".join(f"{self.project}_{item.name}" for item in w.secrets)
                               + f" (from {SECRETS_DIR}/), mounted at {SECRETS_TARGET}/<name> "
                               "as in compose")
        return out

    def _mounts(self, unit: Unit) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                           list[dict[str, Any]]]:
        from archgen.errors import ExportError

        w = unit.workload
        mounts: list[dict[str, Any]] = []
        configs: list[dict[str, Any]] = []
        secrets: list[dict[str, Any]] = []
        for mount in w.mounts:
            if mount.is_volume:
                mounts.append({"type": "volume", "source": mount.source, "target": mount.target,
                               **({"read_only": True} if mount.read_only else {})})
                continue
            relative = Path(mount.source[2:])
            path = self.root / relative
            files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
            if not path.exists():
                raise ExportError(f"{mount.source} is mounted but missing from {self.root}",
                                  hint="re-render the project with `archgen new --force`")
            private = bool(relative.parts) and relative.parts[-1] in PRIVATE_DIRS
            for file in files:
                rel = file.relative_to(self.root).as_posix()
                key = dns_name(rel.replace("/", "-").replace(".", "-"))
                target = mount.target if not path.is_dir() else f"{mount.target}/{file.name}"
                if private:
                    self.stack.secrets[key] = rel
                    secrets.append({"source": key, "target": target, "mode": 0o400})
                else:
                    self.stack.configs[key] = file.read_text(encoding="utf-8")
                    mode = 0o555 if file.suffix == ".sh" else 0o444
                    configs.append({"source": key, "target": target, "mode": mode})
            kind = "secrets" if private else "configs"
            self.report.changed(unit.name, f"volumes.{mount.source}", f"swarm {kind}, one per "
                                "file (swarm mounts no project folders); a changed file needs a "
                                "new config name, so archgen deploy names them by content")
        for tmpfs in w.security.tmpfs:
            target, _, options = tmpfs.partition(":")
            mounts.append({"type": "tmpfs", "target": target})
            if options:
                self.report.changed(unit.name, f"tmpfs.{target}", f"options {options} dropped: "
                                    "the stack file's tmpfs takes only a size")
        return mounts, configs, secrets

    def _security(self, name: str, w: Workload, service: dict[str, Any]) -> None:
        s = w.security
        if s.user:
            service["user"] = s.user
        if s.read_only:
            service["read_only"] = True
        if s.cap_add:
            service["cap_add"] = list(s.cap_add)
        if s.cap_drop:
            service["cap_drop"] = list(s.cap_drop)
        if w.init:
            service["init"] = True
        if s.no_new_privileges:
            self.report.unmapped(name, "security_opt.no-new-privileges", "swarm services have "
                                 "no security options; the image's own user still applies")

    def _deploy(self, unit: Unit) -> dict[str, Any]:
        w = unit.workload
        name = unit.name
        # Stateful tasks keep their data in a node-local volume and two of them must never
        # share it; the edge's host-mode ports cannot be bound twice on one node.
        start_first = not w.stateful and not unit.published and not w.job
        order = "start-first" if start_first else "stop-first"
        deploy: dict[str, Any] = {
            "mode": "replicated", "replicas": unit.replicas, "endpoint_mode": "dnsrr",
            "update_config": {"parallelism": 1, "delay": "5s", "order": order,
                              "failure_action": "rollback", "monitor": "15s"},
            "rollback_config": {"parallelism": 1, "order": order},
            "restart_policy": ({"condition": "on-failure", "delay": "5s", "max_attempts": 10}
                               if w.job else {"condition": "any", "delay": "5s"}),
            "labels": {PROJECT_LABEL: self.project, "io.archgen.node": unit.node.id},
        }
        if w.stateful:
            deploy["placement"] = {"constraints": ["node.role == manager"]}
            self.report.changed(name, "placement", "pinned to manager nodes: its volume is "
                                "local to a node, and a task moved elsewhere would start empty "
                                "(use a volume driver with shared storage to lift this)")
        elif unit.published:
            deploy["placement"] = {"max_replicas_per_node": 1}
        else:
            deploy["placement"] = {"preferences": [{"spread": "node.id"}]}
        if w.memory:
            deploy["resources"] = {"limits": {"memory": w.memory}}
        if w.job:
            self.report.changed(name, "restart", "a one-shot job: one replica restarted on "
                                "failure (up to 10 times), then left complete")
        self.report.mapped(name, "deploy", f"{unit.replicas} replica(s); rolling updates "
                           f"{order} with health gating and automatic rollback")
        self.report.changed(name, "endpoint_mode", "dnsrr: the name resolves to every task; no "
                            "virtual IP or routing mesh (they need IPVS, missing on many kernels)")
        return deploy


def _templated(text: str, pattern: re.Pattern[str], name: str, slots: int) -> str:
    """Each backend's `server` lines of one unit (matched by `pattern`) → one `server-template`.

    One per port: the HTTP servers and the gRPC ones (`proto h2`, options the template
    keeps) each get theirs; per-server weights cannot be kept.
    """
    done: set[str] = set()

    def line(found: re.Match[str]) -> str:
        indent, _, port, options = found.groups()
        if port in done:
            return ""
        done.add(port)
        options = re.sub(r"\s+weight \d+", "", options)
        return f"{indent}server-template {name}- 1-{slots} {name}:{port}{options}\n"

    return pattern.sub(line, text)


def _adapt_haproxy(architecture: Architecture, stack: Stack, units: list[Unit],
                   report: Report) -> None:
    """HAProxy's `server` lines name each old instance: one `server-template` per replicated unit."""
    edge = architecture.context.get("edge")
    if not isinstance(edge, dict) or edge.get("kind") != "haproxy":
        return
    key = dns_name(f"{edge['dir']}/{edge['config_file']}".replace("/", "-").replace(".", "-"))
    text = stack.configs.get(key)
    if text is None:
        return
    for unit in units:
        if not unit.grouped:
            continue
        pattern = re.compile(rf"^(\s*)server ({'|'.join(map(re.escape, unit.instance_names))}) "
                             rf"\2:(\d+)([^\n]*)\n", re.MULTILINE)
        if not pattern.search(text):
            continue
        slots = max(MIN_TEMPLATE_SLOTS, unit.replicas * 3)
        text = _templated(text, pattern, unit.name, slots)
        edge_unit = next((u.name for u in units if u.published), str(edge["dir"]))
        report.changed(edge_unit, f"volumes../{edge['dir']}/{edge['config_file']}",
                       f"servers {', '.join(unit.instance_names)} → server-template {unit.name}- "
                       f"with {slots} slots filled from DNS, so scaling needs no new config "
                       "(per-server weights are lost)")
    stack.configs[key] = text


def build_stack(architecture: Architecture, project_dir: Path, report: Report) -> Stack:
    """The stack of a rendered project, reporting every setting."""
    stack = StackWriter(architecture, project_dir, report).build()
    units, _ = units_of(architecture)
    _adapt_haproxy(architecture, stack, units, report)
    return stack


def config_name(project: str, key: str, text: str) -> str:
    """Configs are immutable in swarm: a name per content lets a changed file roll the service."""
    return f"{project}_{key}-{hashlib.sha256(text.encode()).hexdigest()[:10]}"


def secrets_script(stack: Stack) -> str:
    """`create-secrets.sh`: the external secrets the stack names, from the project's private files."""
    lines = [
        "#!/bin/sh",
        "# Creates the swarm secrets the stack references, from the rendered project's private",
        "# files (secrets/, the edge's TLS pair). Swarm secrets are immutable: remove one to",
        "# change it. No secret value is ever written into this folder.",
        "# Usage: ./create-secrets.sh [PROJECT_DIR]   (default: the current directory)",
        "set -eu",
        'project="${1:-.}"',
        'create() { docker secret inspect "$1" >/dev/null 2>&1 || docker secret create '
        f'--label {NAMESPACE_LABEL}={stack.project} --label {PROJECT_LABEL}={stack.project} "$1" -; }}',
    ]
    for key, source in sorted(stack.secrets.items()):
        name = shlex.quote(f"{stack.project}_{key}")
        lines.append(f'create {name} < "$project/{source}"')
    return "\n".join(lines) + "\n"


def deploy_script(stack: Stack) -> str:
    return "\n".join([
        "#!/bin/sh",
        "# Deploys the stack: settings interpolated from the project's .env, secrets created first.",
        "# The images must already be on every node (swarm does not build): see images.txt.",
        "set -eu",
        'project="${1:-.}"',
        'here="$(cd "$(dirname "$0")" && pwd)"',
        '"$here/create-secrets.sh" "$project"',
        'set -a; . "$project/.env"; set +a',
        f'docker stack deploy --prune -c "$here/{STACK_FILE}" {stack.project}',
    ]) + "\n"


def images_text(stack: Stack) -> str:
    lines = ["# Images the stack runs: swarm pulls or finds them on each node, it never builds."]
    for image in stack.images:
        source = stack.builds.get(image)
        lines.append(f"{image}" + (f"  # built from {source} (archgen build)" if source else ""))
    return "\n".join(lines) + "\n"


__all__ = ["STACK_FILE", "Stack", "build_stack", "config_name", "deploy_script",
           "images_text", "secrets_script"]
