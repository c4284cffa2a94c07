"""Which compose keys archgen runs: refuse the rest by name, with the reason and a "did you mean"."""

from __future__ import annotations

from typing import Any

from archgen.errors import ComposeError

TOP_KEYS = {"name", "services", "networks", "volumes", "version", "secrets", "configs", "include"}
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose",
    "volumes", "tmpfs", "networks", "depends_on", "healthcheck", "restart", "deploy", "user",
    "read_only", "cap_drop", "cap_add", "security_opt", "init", "labels", "stop_grace_period",
    "stop_signal", "profiles", "pull_policy", "working_dir", "hostname",
    "container_name", "secrets", "configs", "ulimits", "sysctls", "extra_hosts", "network_mode",
    "ipc", "pid", "shm_size", "tty", "stdin_open", "privileged", "devices", "dns", "dns_search",
    "dns_opt", "logging", "platform", "runtime", "mem_limit", "mem_reservation", "memswap_limit",
    "cpus", "cpu_shares", "cpuset", "oom_score_adj", "links", "extends", "develop", "domainname",
    "group_add", "scale",
}  # fmt: skip
SUBKEYS: dict[str, set[str]] = {
    "build": {"context", "dockerfile", "args", "target"},
    "healthcheck": {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"},
    "deploy": {"replicas", "resources", *{"placement", "update_config", "rollback_config", "endpoint_mode"}},
    "deploy.resources": {"limits", "reservations"},
    "deploy.resources.limits": {"cpus", "memory", "pids"},
    "deploy.resources.reservations": {"cpus", "memory"},
    "depends_on.*": {"condition", "required"},
    "networks.*": {"aliases", "ipv4_address", "ipv6_address"},
    "ulimits.*": {"soft", "hard"},
    "logging": {"driver", "options"},
    "volumes[]": {"type", "source", "target", "read_only"},
    "env_file[]": {"path", "required"},
    "secrets[]": {"source", "target", "uid", "gid", "mode"},
    "configs[]": {"source", "target", "uid", "gid", "mode"},
}
NETWORK_KEYS = {"driver", "driver_opts", "internal", "attachable", "external", "name", "labels", "ipam"}
IPAM_KEYS = {"driver", "config", "options"}
IPAM_POOL_KEYS = {"subnet", "ip_range", "gateway", "aux_addresses"}
VOLUME_KEYS = {"driver", "driver_opts", "external", "name", "labels"}
FILE_KEYS = {"secrets": {"file", "environment", "external", "name"},
             "configs": {"file", "environment", "content", "external", "name"}}  # fmt: skip

# Accepted and ignored, as `docker compose up` does on one engine; the note says so.
IGNORED = {
    "develop": "`develop` (watch mode) is for `docker compose watch`; archgen up ignores it",
    "deploy.placement": "swarm placement has no meaning on one engine; ignored",
    "deploy.update_config": "swarm rolling updates do not apply on one engine; ignored",
    "deploy.rollback_config": "swarm rollbacks do not apply on one engine; ignored",
    "deploy.endpoint_mode": "swarm service discovery mode does not apply on one engine; ignored",
}

# Compose keys archgen knows and does not run, with why (anything else: "not a Compose key").
REASONS = {
    "volumes_from": "sharing another container's volumes is not supported; declare the named volume on both",
    "external_links": "links to containers outside the project are not supported; join a shared network",
    "gpus": "GPU device requests are not supported",
    "devices": "GPU and generic device reservations are not supported; use services.*.devices",
    "cgroup_parent": "custom cgroup parents are not supported",
    "cgroup": "cgroup namespace modes are not supported",
    "userns_mode": "user namespace modes are not supported",
    "uts": "UTS namespace sharing is not supported",
    "isolation": "isolation is a Windows-container setting",
    "credential_spec": "credential specs are a Windows-container setting",
    "storage_opt": "storage driver options are not supported",
    "blkio_config": "block IO weights and limits are not supported",
    "mac_address": "fixed MAC addresses are not supported",
    "volume": "volume options (nocopy, subpath) are not supported",
    "bind": "bind options (propagation, create_host_path, selinux) are not supported",
    "tmpfs": "tmpfs mount options here are not supported; use services.*.tmpfs",
    "format": "env_file formats other than the default are not supported",
    "restart": "restarting dependants when a dependency restarts is not supported",
    "cache_from": "build cache sources are not supported",
    "annotations": "OCI annotations are not supported",
    "attach": "attach: is a `docker compose up` foreground option; archgen never attaches",
    "post_start": "lifecycle hooks are not supported",
    "pre_stop": "lifecycle hooks are not supported",
    "models": "AI models are not supported",
    "restart_policy": "deploy.restart_policy is swarm-only; use services.*.restart",
    "mode": "deploy modes (global) are swarm-only",
}
GENERIC = "a Compose key archgen does not run yet"


def check_keys(raw: dict[str, Any]) -> list[str]:
    """Refuse every key archgen does not run, naming each one, where it is and why.

    Returns notes about keys accepted and ignored (`develop`, swarm-only deploy keys).
    """
    problems: list[str] = []
    notes: list[str] = []
    _unknown(raw, TOP_KEYS, "", problems, notes)
    services = raw.get("services")
    if not isinstance(services, dict) or not services:
        raise ComposeError("compose.yaml: 'services' must be a non-empty mapping")
    for name, svc in services.items():
        base = f"services.{name}"
        if not isinstance(svc, dict):
            problems.append(f"{base}: expected a mapping")
            continue
        _unknown(svc, SERVICE_KEYS, base, problems, notes)
        for key in ("build", "healthcheck", "deploy", "logging"):
            if isinstance(svc.get(key), dict):
                _unknown(svc[key], SUBKEYS[key], f"{base}.{key}", problems, notes)
        deploy = svc.get("deploy")
        resources = deploy.get("resources") if isinstance(deploy, dict) else None
        if isinstance(resources, dict):
            _unknown(resources, SUBKEYS["deploy.resources"], f"{base}.deploy.resources", problems, notes)
            for part in ("limits", "reservations"):
                if isinstance(resources.get(part), dict):
                    where = f"{base}.deploy.resources.{part}"
                    _unknown(resources[part], SUBKEYS[f"deploy.resources.{part}"], where, problems, notes)
        for key in ("depends_on", "networks", "ulimits"):
            if isinstance(svc.get(key), dict):
                for item, body in svc[key].items():
                    if isinstance(body, dict):
                        _unknown(body, SUBKEYS[f"{key}.*"], f"{base}.{key}.{item}", problems, notes)
        for key in ("volumes", "env_file", "secrets", "configs"):
            if isinstance(svc.get(key), list):
                for i, item in enumerate(svc[key]):
                    if isinstance(item, dict):
                        _unknown(item, SUBKEYS[f"{key}[]"], f"{base}.{key}[{i}]", problems, notes)
    for section, allowed in (("networks", NETWORK_KEYS), ("volumes", VOLUME_KEYS), *FILE_KEYS.items()):
        for key, body in (raw.get(section) or {}).items():
            if isinstance(body, dict):
                _unknown(body, allowed, f"{section}.{key}", problems, notes)
                if section == "networks" and isinstance(body.get("ipam"), dict):
                    _unknown(body["ipam"], IPAM_KEYS, f"networks.{key}.ipam", problems, notes)
                    for i, pool in enumerate(body["ipam"].get("config") or []):
                        if isinstance(pool, dict):
                            where = f"networks.{key}.ipam.config[{i}]"
                            _unknown(pool, IPAM_POOL_KEYS, where, problems, notes)
    if problems:
        head = (
            "unsupported compose key" if len(problems) == 1 else f"{len(problems)} unsupported compose keys"
        )
        raise ComposeError(
            f"compose.yaml: {head}:\n" + "\n".join(f"  {p}" for p in problems),
            hint="archgen runs a subset of the Compose specification; remove or replace these keys",
        )
    return notes


def _unknown(
    body: dict[str, Any], allowed: set[str], base: str, problems: list[str], notes: list[str]
) -> None:
    for key in body:
        if isinstance(key, str) and key.startswith("x-"):
            continue
        where = f"{base}.{key}" if base else str(key)
        ignored = IGNORED.get(where.split(".", 2)[-1] if base.startswith("services.") else where)
        if ignored is not None and key in allowed:
            notes.append(f"{where}: {ignored}")
            continue
        if key in allowed:
            continue
        import difflib  # only on a refusal: it costs a no-op `up` ~5 ms to import

        reason = REASONS.get(str(key), GENERIC if _looks_like_compose(str(key)) else "not a Compose key")
        close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.75)
        guess = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(f"{where}: unsupported key '{key}' ({reason}){guess}")


# Compose keys (anywhere in the file) that archgen does not run and REASONS does not explain.
_COMPOSE_WORDS = {
    "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_runtime", "cpu_rt_period",
    "device_cgroup_rules", "label_file", "mem_swappiness", "oom_kill_disable", "pids_limit",
    "use_api_socket", "provider", "lifecycle", "additional_contexts", "ssh", "tags", "platforms",
    "network", "no_cache", "pull", "entitlements", "dockerfile_inline", "cache_to", "shm_size",
    "extra_hosts", "privileged", "secrets", "labels", "ulimits", "priority", "interface_name",
    "link_local_ips", "gw_priority", "driver_opts", "enable_ipv6", "enable_ipv4", "name", "subpath",
}  # fmt: skip


def _looks_like_compose(key: str) -> bool:
    return key in _COMPOSE_WORDS
