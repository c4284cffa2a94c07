"""`archgen config`: the loaded `Project` written back as a compose file, as `docker compose config` does.

Pure: everything comes from the normalised model, so what is printed is what
`up` runs — interpolated, `env_file`s merged into `environment`, `extends` and
`include` resolved, relative paths made absolute, durations in seconds and sizes
in bytes, implicit dependencies (links, shared namespaces) listed. Engine-side
names map back to compose keys. Loading the printed file gives the same `Project`
(a literal `$` is written `$$`), with one exception: a secret that archgen copies
into the container (from an environment variable, or with uid/gid/mode) keeps its
value out of the output: its top-level entry names a placeholder variable
`ARCHGEN_SECRET_<NAME>` instead of its real source.
"""

from __future__ import annotations

import json
from typing import Any

from archgen.runtime.model import FileMount, NetworkSpec, Project, Service, VolumeSpec

TOP_ORDER = ("name", "services", "networks", "volumes", "secrets", "configs")


def compose_dict(project: Project, *, services: list[str] | None = None) -> dict[str, Any]:
    """The compose document of `project`'s active services (or of `services`), keys in a stable order."""
    names = services if services is not None else project.active
    by_engine_name = {n.name: n.key for n in project.networks.values()}
    volume_keys = {v.name: v.key for v in project.volumes.values()}
    out: dict[str, Any] = {"name": project.name}
    out["services"] = {
        name: _service(project.services[name], by_engine_name, volume_keys) for name in sorted(names)
    }
    used_networks = {by_engine_name[n] for name in names for n in project.services[name].networks}
    networks = {k: _network(n) for k, n in sorted(project.networks.items()) if k in used_networks}
    if networks:
        out["networks"] = networks
    if project.volumes:
        out["volumes"] = {k: _volume(v) for k, v in sorted(project.volumes.items())}
    for kind in ("secret", "config"):
        top = _top_files(project, kind, names)
        if top:
            out[f"{kind}s"] = top
    return out


def render_yaml(document: dict[str, Any]) -> str:
    """YAML as `docker compose config` prints it; `$` escaped so the file loads to the same model."""
    import yaml

    return str(yaml.safe_dump(_escape(document), sort_keys=False, default_flow_style=False, width=1000))


def render_json(document: dict[str, Any]) -> str:
    """The document as indented JSON (not escaped: JSON is for reading, not re-loading)."""
    return json.dumps(document, indent=2)


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


def _seconds(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _service(s: Service, networks: dict[str, str], volumes: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"image": s.image}
    if s.build is not None:
        build: dict[str, Any] = {"context": s.build.context}
        if s.build.dockerfile:
            build["dockerfile"] = s.build.dockerfile
        if s.build.args:
            build["args"] = dict(s.build.args)
        if s.build.target:
            build["target"] = s.build.target
        body["build"] = build
    if s.command is not None:
        body["command"] = list(s.command)
    if s.entrypoint is not None:
        body["entrypoint"] = list(s.entrypoint)
    if s.environment:
        body["environment"] = dict(sorted(s.environment.items()))
    if s.ports:
        body["ports"] = [_port(p.target, p.published, p.host_ip, p.protocol) for p in s.ports]
    if s.expose:
        body["expose"] = list(s.expose)
    if s.mounts:
        body["volumes"] = [_mount(m.type, m.source, m.target, m.read_only, volumes) for m in s.mounts]
    if s.tmpfs:
        body["tmpfs"] = [f"{path}:{opts}" if opts else path for path, opts in s.tmpfs.items()]
    if s.networks:
        body["networks"] = {networks[net]: _endpoint(s, net, aliases) for net, aliases in s.networks.items()}
    if s.depends_on:
        body["depends_on"] = {
            d.service: {"condition": d.condition, "required": d.required} for d in s.depends_on
        }
    if s.healthcheck is not None:
        body["healthcheck"] = _healthcheck(s)
    body["restart"] = s.restart
    deploy = _deploy(s)
    if deploy:
        body["deploy"] = deploy
    for key in ("cpus", "user", "working_dir", "hostname", "domainname", "stop_signal", "container_name",
                "platform", "runtime", "ipc", "pid", "network_mode", "cpuset", "pull_policy"):  # fmt: skip
        value = getattr(s, key)
        if value is not None:
            body[key] = value
    for key in ("shm_size", "mem_reservation", "memswap_limit", "cpu_shares", "oom_score_adj"):
        value = getattr(s, key)
        if value is not None:
            body[key] = value
    if s.memory is not None:
        body["mem_limit"] = s.memory
    if s.stop_grace_period is not None:
        body["stop_grace_period"] = _seconds(s.stop_grace_period)
    if s.init is not None:
        body["init"] = s.init
    for key in ("read_only", "tty", "stdin_open", "privileged"):
        if getattr(s, key):
            body[key] = True
    for key in ("cap_add", "cap_drop", "security_opt", "extra_hosts", "links", "devices", "dns",
                "dns_search", "dns_opt", "group_add", "profiles"):  # fmt: skip
        value = getattr(s, key)
        if value:
            body[key] = list(value)
    if s.labels:
        body["labels"] = dict(sorted(s.labels.items()))
    if s.sysctls:
        body["sysctls"] = dict(sorted(s.sysctls.items()))
    if s.ulimits:
        body["ulimits"] = {k: {"soft": soft, "hard": hard} for k, (soft, hard) in sorted(s.ulimits.items())}
    if s.logging is not None:
        logging: dict[str, Any] = {}
        if s.logging.driver:
            logging["driver"] = s.logging.driver
        if s.logging.options:
            logging["options"] = dict(s.logging.options)
        body["logging"] = logging
    for kind in ("secret", "config"):
        files = [_file_ref(f) for f in s.files if f.kind == kind]
        if files:
            body[f"{kind}s"] = files
    return dict(sorted(body.items()))


def _port(target: int, published: int | None, host_ip: str, protocol: str) -> dict[str, Any]:
    port: dict[str, Any] = {"target": target}
    if published is not None:
        port["published"] = str(published)
    if host_ip:
        port["host_ip"] = host_ip
    port["protocol"] = protocol
    return port


def _mount(
    kind: str, source: str | None, target: str, read_only: bool, volumes: dict[str, str]
) -> dict[str, Any]:
    mount: dict[str, Any] = {"type": kind}
    if source is not None:
        mount["source"] = volumes.get(source, source) if kind == "volume" else source
    mount["target"] = target
    if read_only:
        mount["read_only"] = True
    return mount


def _endpoint(s: Service, net: str, aliases: tuple[str, ...]) -> dict[str, Any] | None:
    endpoint: dict[str, Any] = {}
    extra = [a for a in aliases if a != s.name]
    if extra:
        endpoint["aliases"] = extra
    v4, v6 = s.network_ips.get(net, ("", ""))
    if v4:
        endpoint["ipv4_address"] = v4
    if v6:
        endpoint["ipv6_address"] = v6
    return endpoint or None


def _healthcheck(s: Service) -> dict[str, Any]:
    hc = s.healthcheck
    assert hc is not None
    if hc.disabled:
        return {"disable": True}
    out: dict[str, Any] = {}
    if hc.test is not None:
        out["test"] = list(hc.test)
    for key in ("interval", "timeout", "start_period", "start_interval"):
        value = getattr(hc, key)
        if value is not None:
            out[key] = _seconds(value)
    if hc.retries is not None:
        out["retries"] = hc.retries
    return out


def _deploy(s: Service) -> dict[str, Any]:
    deploy: dict[str, Any] = {}
    if s.replicas != 1:
        deploy["replicas"] = s.replicas
    if s.pids is not None:
        deploy["resources"] = {"limits": {"pids": s.pids}}
    if s.cpu_reservation is not None:
        deploy.setdefault("resources", {})["reservations"] = {"cpus": s.cpu_reservation}
    return deploy


def _file_ref(f: FileMount) -> dict[str, Any]:
    ref: dict[str, Any] = {"source": f.name, "target": f.target}
    if f.uid is not None:
        ref["uid"] = f.uid
    if f.gid is not None:
        ref["gid"] = f.gid
    if f.mode is not None:
        ref["mode"] = f.mode
    return ref


def _top_files(project: Project, kind: str, names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        for f in project.services[name].files:
            if f.kind != kind or f.name in out:
                continue
            if f.source is not None:
                out[f.name] = {"file": f.source}
            elif kind == "config" and f"config:{f.name}" in project.contents:
                out[f.name] = {"content": project.contents[f"config:{f.name}"].decode(errors="replace")}
            else:
                out[f.name] = {"environment": f"ARCHGEN_SECRET_{f.name.upper().replace('-', '_')}"}
    return dict(sorted(out.items()))


def _network(n: NetworkSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"name": n.name}
    if n.external:
        body["external"] = True
        return body
    if n.driver:
        body["driver"] = n.driver
    if n.driver_opts:
        body["driver_opts"] = dict(n.driver_opts)
    if n.internal:
        body["internal"] = True
    if n.attachable:
        body["attachable"] = True
    if n.labels:
        body["labels"] = dict(n.labels)
    if n.ipam:
        body["ipam"] = _ipam(n.ipam)
    return body


def _ipam(ipam: dict[str, Any]) -> dict[str, Any]:
    names = {"Subnet": "subnet", "IPRange": "ip_range", "Gateway": "gateway",
             "AuxiliaryAddresses": "aux_addresses"}  # fmt: skip
    out: dict[str, Any] = {"driver": ipam.get("Driver", "default")}
    pools = ipam.get("Config") or []
    out["config"] = [{names[k]: v for k, v in pool.items() if k in names} for pool in pools]
    if ipam.get("Options"):
        out["options"] = dict(ipam["Options"])
    return out


def _volume(v: VolumeSpec) -> dict[str, Any]:
    body: dict[str, Any] = {"name": v.name}
    if v.external:
        body["external"] = True
        return body
    if v.driver:
        body["driver"] = v.driver
    if v.driver_opts:
        body["driver_opts"] = dict(v.driver_opts)
    if v.labels:
        body["labels"] = dict(v.labels)
    return body
