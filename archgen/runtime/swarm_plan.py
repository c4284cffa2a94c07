"""Swarm deploy, planned before it runs: the stack → Engine API specs → the actions that converge.

Pure data in, pure data out (no engine here), so the planner is tested with plain
fakes. Every object carries `com.docker.stack.namespace=<project>` and the stack's
naming (`<project>_<name>`), so `docker stack ps|rm <project>` sees what archgen made.
Secrets and configs are immutable in swarm: a config is named by its content (a
changed file rolls the services that mount it); a secret that already exists is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from archgen.errors import ArgumentError
from archgen.export._units import duration
from archgen.export.swarm import (
    NAMESPACE_LABEL,
    PROJECT_LABEL,
    SPEC_HASH_LABEL,
    Stack,
    config_name,
)

_NS = 1_000_000_000
_MEMORY = re.compile(r"^(\d+)([bkmg]?)b?$", re.IGNORECASE)
_MEMORY_UNIT = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


@dataclass(frozen=True)
class Named:
    """A network, secret or config to exist: its full name and what creates it."""

    name: str
    body: Mapping[str, Any]  # network options, or {"data": bytes-as-str}


@dataclass(frozen=True)
class DesiredService:
    name: str  # <project>_<service>
    short: str
    spec: dict[str, Any]  # Engine API ServiceSpec, networks/secrets/configs by name
    spec_hash: str


@dataclass
class Desired:
    project: str
    services: list[DesiredService] = field(default_factory=list)
    networks: list[Named] = field(default_factory=list)
    secrets: list[Named] = field(default_factory=list)
    configs: list[Named] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ObservedService:
    id: str
    name: str
    version: int
    spec_hash: str | None
    has_previous: bool = False


@dataclass
class Observed:
    """What the swarm holds for this project (found by the namespace label)."""

    services: dict[str, ObservedService] = field(default_factory=dict)
    networks: set[str] = field(default_factory=set)
    secrets: set[str] = field(default_factory=set)
    configs: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Action:
    verb: str  # create | update | remove | keep | rollback
    kind: str  # network | secret | config | service
    name: str
    reason: str = ""

    def line(self) -> str:
        return f"{self.verb:8} {self.kind:8} {self.name}" + (f"  ({self.reason})" if self.reason else "")


def memory_bytes(text: str) -> int:
    match = _MEMORY.match(text.strip())
    if not match:
        raise ArgumentError(f"not a memory size: {text!r}")
    return int(match.group(1)) * _MEMORY_UNIT[match.group(2).lower()]


def _ns(text: str) -> int:
    return int(duration(text) * _NS)


def _overrides(items: list[str], what: str, services: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        service, sep, value = item.partition("=")
        if not sep or not value:
            raise ArgumentError(f"--{what} {item!r}: expected SERVICE=VALUE",
                                hint=f"e.g. --{what} app=" + ("5" if what == "replicas" else "shop-app:2"))
        if service not in services:
            raise ArgumentError(f"--{what} {item!r}: no service {service!r} in the stack",
                                hint=f"services: {', '.join(services)}")
        found[service] = value
    return found


def desired_state(stack: Stack, secret_values: Mapping[str, str], *,
                  replicas: list[str] | None = None, images: list[str] | None = None) -> Desired:
    """The Engine API objects of a stack whose settings are interpolated already.

    `secret_values` maps each stack secret key to its content (read from the project's
    `secrets/` and private files by the caller).
    """
    project = stack.project
    doc = stack.document
    names = list(doc["services"])
    scale = _overrides(replicas or [], "replicas", names)
    for service, value in scale.items():
        if not value.isdigit():
            raise ArgumentError(f"--replicas {service}={value}: not a number of replicas")
    swap = _overrides(images or [], "image", names)
    labels = {NAMESPACE_LABEL: project, PROJECT_LABEL: project}
    desired = Desired(project)
    for key, options in doc.get("networks", {}).items():
        desired.networks.append(Named(f"{project}_{key}", {
            "driver": options.get("driver", "overlay"), "attachable": bool(options.get("attachable")),
            "internal": bool(options.get("internal")), "labels": labels}))
    config_names = {k: config_name(project, k, text) for k, text in stack.configs.items()}
    for key, text in sorted(stack.configs.items()):
        desired.configs.append(Named(config_names[key], {"data": text, "labels": labels}))
    for key in sorted(stack.secrets):
        if key not in secret_values:
            raise ArgumentError(f"the secret {key!r} has no value: {stack.secrets[key]} is missing",
                                hint="run `archgen new` or `archgen update` (they write secrets/)")
        desired.secrets.append(Named(f"{project}_{key}", {"data": secret_values[key],
                                                          "labels": labels}))
    desired.volumes = [f"{project}_{v}" for v in doc.get("volumes", {})]
    for short, service in doc["services"].items():
        spec = _service_spec(project, short, service, config_names, labels)
        if short in scale:
            spec["Mode"] = {"Replicated": {"Replicas": int(scale[short])}}
        if short in swap:
            spec["TaskTemplate"]["ContainerSpec"]["Image"] = swap[short]
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
        spec["Labels"][SPEC_HASH_LABEL] = digest
        desired.services.append(DesiredService(f"{project}_{short}", short, spec, digest))
    return desired


def _service_spec(project: str, short: str, service: dict[str, Any],
                  config_names: Mapping[str, str], labels: dict[str, str]) -> dict[str, Any]:
    deploy = service.get("deploy", {})
    container: dict[str, Any] = {"Image": service["image"],
                                 "Labels": {**labels, **service.get("labels", {})}}
    if "entrypoint" in service:
        container["Command"] = list(service["entrypoint"])
    if "command" in service:
        container["Args"] = list(service["command"])
    env = service.get("environment", {})
    if env:
        container["Env"] = [f"{k}={v}" for k, v in env.items()]
    for key, field_name in (("user", "User"), ("read_only", "ReadOnly"), ("init", "Init"),
                            ("cap_add", "CapabilityAdd"), ("cap_drop", "CapabilityDrop")):
        if key in service:
            container[field_name] = service[key]
    if "stop_grace_period" in service:
        container["StopGracePeriod"] = _ns(service["stop_grace_period"])
    hc = service.get("healthcheck")
    if hc is not None:
        container["Healthcheck"] = ({"Test": ["NONE"]} if hc.get("disable") else {
            "Test": list(hc["test"]), "Interval": _ns(hc["interval"]), "Timeout": _ns(hc["timeout"]),
            "Retries": int(hc["retries"]), "StartPeriod": _ns(hc["start_period"])})
    mounts = []
    for m in service.get("volumes", []):
        if m["type"] == "volume":
            mounts.append({"Type": "volume", "Source": f"{project}_{m['source']}",
                           "Target": m["target"], "ReadOnly": bool(m.get("read_only")),
                           "VolumeOptions": {"Labels": labels}})
        else:
            mounts.append({"Type": "tmpfs", "Target": m["target"]})
    if mounts:
        container["Mounts"] = mounts
    if service.get("secrets"):
        container["Secrets"] = [{"SecretName": f"{project}_{s['source']}", "File": {
            "Name": s["target"], "UID": "0", "GID": "0", "Mode": int(s.get("mode", 0o444))}}
            for s in service["secrets"]]
    if service.get("configs"):
        container["Configs"] = [{"ConfigName": config_names[c["source"]], "File": {
            "Name": c["target"], "UID": "0", "GID": "0", "Mode": int(c.get("mode", 0o444))}}
            for c in service["configs"]]
    restart = deploy.get("restart_policy", {})
    template: dict[str, Any] = {
        "ContainerSpec": container,
        "RestartPolicy": {"Condition": restart.get("condition", "any"),
                          "Delay": _ns(restart.get("delay", "5s")),
                          **({"MaxAttempts": restart["max_attempts"]}
                             if "max_attempts" in restart else {})},
        "Networks": [{"Target": f"{project}_{net}",
                      "Aliases": [short, *((opts or {}).get("aliases", []))]}
                     for net, opts in service.get("networks", {}).items()],
    }
    placement = deploy.get("placement", {})
    if placement:
        template["Placement"] = {
            **({"Constraints": placement["constraints"]} if "constraints" in placement else {}),
            **({"Preferences": [{"Spread": {"SpreadDescriptor": p["spread"]}}
                                for p in placement["preferences"]]}
               if "preferences" in placement else {}),
            **({"MaxReplicas": placement["max_replicas_per_node"]}
               if "max_replicas_per_node" in placement else {})}
    memory = deploy.get("resources", {}).get("limits", {}).get("memory")
    if memory:
        template["Resources"] = {"Limits": {"MemoryBytes": memory_bytes(memory)}}
    update = deploy.get("update_config", {})
    rollback = deploy.get("rollback_config", {})
    spec: dict[str, Any] = {
        "Name": f"{project}_{short}",
        "Labels": {**labels, **deploy.get("labels", {})},
        "TaskTemplate": template,
        "Mode": {"Replicated": {"Replicas": int(deploy.get("replicas", 1))}},
        "UpdateConfig": {"Parallelism": update.get("parallelism", 1),
                         "Delay": _ns(update.get("delay", "0s")),
                         "FailureAction": update.get("failure_action", "pause"),
                         "Monitor": _ns(update.get("monitor", "5s")),
                         "Order": update.get("order", "stop-first")},
        "RollbackConfig": {"Parallelism": rollback.get("parallelism", 1),
                           "Order": rollback.get("order", "stop-first")},
        "EndpointSpec": {"Mode": deploy.get("endpoint_mode", "vip"), "Ports": [
            {"Protocol": p["protocol"], "TargetPort": p["target"], "PublishedPort": p["published"],
             "PublishMode": p["mode"]} for p in service.get("ports", [])]},
    }
    return spec


def plan(desired: Desired, observed: Observed) -> list[Action]:
    """What to do, in order: networks, secrets, configs, services, then what is left over."""
    actions: list[Action] = []
    for kind, wanted, present in (("network", desired.networks, observed.networks),
                                  ("secret", desired.secrets, observed.secrets),
                                  ("config", desired.configs, observed.configs)):
        for item in wanted:
            if item.name in present:
                actions.append(Action("keep", kind, item.name,
                                      "exists; secrets are immutable" if kind == "secret" else ""))
            else:
                actions.append(Action("create", kind, item.name))
    wanted_services = {s.name for s in desired.services}
    for service in desired.services:
        current = observed.services.get(service.name)
        if current is None:
            actions.append(Action("create", "service", service.name))
        elif current.spec_hash != service.spec_hash:
            actions.append(Action("update", "service", service.name, "rolling update"))
        else:
            actions.append(Action("keep", "service", service.name, "up to date"))
    for name in sorted(set(observed.services) - wanted_services):
        actions.append(Action("remove", "service", name, "no longer in the stack"))
    # Old configs (a previous content) go once no service mounts them: after the update.
    wanted_configs = {c.name for c in desired.configs}
    for name in sorted(observed.configs - wanted_configs):
        actions.append(Action("remove", "config", name, "replaced by a new content"))
    wanted_networks = {n.name for n in desired.networks}
    for name in sorted(observed.networks - wanted_networks):
        actions.append(Action("remove", "network", name, "no longer in the stack"))
    return actions


def removal(observed: Observed) -> list[Action]:
    """`--remove`: services first (their tasks hold the rest), then networks, configs, secrets."""
    return ([Action("remove", "service", n) for n in sorted(observed.services)]
            + [Action("remove", "network", n) for n in sorted(observed.networks)]
            + [Action("remove", "config", n) for n in sorted(observed.configs)]
            + [Action("remove", "secret", n) for n in sorted(observed.secrets)])


def rollback(observed: Observed, services: list[str], project: str) -> list[Action]:
    """Roll back the named services (default: every one with a previous spec) to that spec."""
    chosen = {f"{project}_{s}" for s in services} if services else set(observed.services)
    unknown = chosen - set(observed.services)
    if unknown:
        raise ArgumentError(f"no deployed service {', '.join(sorted(unknown))}",
                            hint=f"deployed: {', '.join(sorted(observed.services)) or 'none'}")
    return [Action("rollback", "service", n) if observed.services[n].has_previous
            else Action("keep", "service", n, "no previous spec to roll back to")
            for n in sorted(chosen)]
