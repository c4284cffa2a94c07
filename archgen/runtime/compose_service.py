"""Normalise the container-level compose keys of one service: secrets, configs, namespaces, limits, DNS."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Any

from archgen.errors import ComposeError
from archgen.runtime import values as v
from archgen.runtime.model import CONDITIONS, Dependency, FileMount, Healthcheck, LogConfig

SECRETS_DIR = "/run/secrets"
NAMESPACE = re.compile(r"host|none|bridge|private|shareable|(service|container):[A-Za-z0-9][\w.-]*")


def top_files(
    kind: str, body: object, root: Path, env: dict[str, str]
) -> tuple[dict[str, tuple[str | None, bytes | None]], list[str]]:
    """Top-level `secrets:` or `configs:` -> name -> (host file, or content when not a file).

    An `environment:` source is read here from the project's environment (the process
    environment over `.env`), as Compose does; its value never reaches the config hash
    in clear (only its sha256, see `FileMount`).
    """
    out: dict[str, tuple[str | None, bytes | None]] = {}
    warnings: list[str] = []
    if body is None:
        return out, warnings
    if not isinstance(body, dict):
        raise ComposeError(f"{kind}: expected a mapping")
    for name, spec in body.items():
        where = f"{kind}.{name}"
        if not isinstance(spec, dict):
            raise ComposeError(f"{where}: expected a mapping with 'file' or 'environment'")
        if spec.get("external") not in (None, False, "false"):
            raise ComposeError(
                f"{where}.external: unsupported key 'external' (external {kind} live in a Docker swarm; "
                "archgen runs on one engine)",
                hint=f"use 'file:' or 'environment:' for {kind}.{name}",
            )
        if spec.get("file") is not None:
            path = (root / os.path.expanduser(v.string(spec["file"], f"{where}.file"))).absolute()
            if not path.exists():
                raise ComposeError(f"{where}.file: no such file: {path}")
            out[str(name)] = (os.path.normpath(path), None)
        elif spec.get("environment") is not None:
            var = v.string(spec["environment"], f"{where}.environment")
            if var not in env:
                warnings.append(f"{where}: variable {var} is not set; the {kind[:-1]} is empty")
            out[str(name)] = (None, env.get(var, "").encode())
        elif kind == "configs" and spec.get("content") is not None:
            out[str(name)] = (None, v.string(spec["content"], f"{where}.content").encode())
        else:
            allowed = "'file' or 'environment'" + (" or 'content'" if kind == "configs" else "")
            raise ComposeError(f"{where}: needs {allowed}")
    return out, warnings


def service_files(
    kind: str,
    value: object,
    where: str,
    declared: dict[str, tuple[str | None, bytes | None]],
    contents: dict[str, bytes],
    read_only: bool,
) -> list[FileMount]:
    """A service's `secrets:`/`configs:` list -> mounts; copied contents go into `contents`.

    Secrets land in `/run/secrets/<target or name>`, configs at `/<name>` or `target`
    (an absolute target is kept as is), as Compose places them.

    Why copy rather than bind a generated file: a bind needs a host file that outlives
    the command and holds the secret in clear in some project-owned place (and is
    shared by every container reading it); copying with the archive API puts the bytes
    into the container's own filesystem before it starts, with the uid, gid and mode
    asked for, and nothing is left on the host. Plain files without uid/gid/mode are
    bind-mounted read-only like Compose does, so edits show up live.
    """
    if value is None:
        return []
    if not isinstance(value, list):
        raise ComposeError(f"{where}: expected a list")
    mounts: list[FileMount] = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        entry: dict[str, Any] = {"source": item} if isinstance(item, str) else item
        if not isinstance(entry, dict):
            raise ComposeError(f"{at}: expected a name or a mapping")
        name = v.string(entry.get("source", ""), f"{at}.source")
        if name not in declared:
            raise ComposeError(f"{at}: {kind[:-1]} {name!r} is not declared under the top-level '{kind}:'")
        target = v.string(entry.get("target") or name, f"{at}.target")
        if not target.startswith("/"):
            target = f"{SECRETS_DIR}/{target}" if kind == "secrets" else f"/{target}"
        uid = None if entry.get("uid") is None else _numeric(entry["uid"], f"{at}.uid")
        gid = None if entry.get("gid") is None else _numeric(entry["gid"], f"{at}.gid")
        mode = None if entry.get("mode") is None else _mode(entry["mode"], f"{at}.mode")
        path, content = declared[name]
        if path is not None and (uid, gid, mode) == (None, None, None):
            mounts.append(FileMount(kind[:-1], name, target, path))
            continue
        if content is None:
            assert path is not None
            if Path(path).is_dir():
                raise ComposeError(f"{at}: uid, gid and mode need a file, and {path} is a directory")
            content = Path(path).read_bytes()
        if read_only:
            raise ComposeError(
                f"{at}: archgen copies this {kind[:-1]} into the container, and read_only: true "
                "forbids writing there",
                hint="use a file-based secret without uid/gid/mode (bind-mounted), or drop read_only",
            )
        key = f"{kind[:-1]}:{name}"
        contents[key] = content
        digest = hashlib.sha256(content).hexdigest()
        mounts.append(FileMount(kind[:-1], name, target, None, uid, gid, mode, digest))
    return mounts


def _numeric(value: object, where: str) -> str:
    text = v.string(value, where)
    if not text.isdigit():
        raise ComposeError(f"{where}: expected a numeric id, got {value!r}")
    return text


def _mode(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value  # YAML 1.2 reads 0440 as decimal 440; compose files write octal as 0o440 or "0440"
    text = v.string(value, where)
    try:
        return int(text, 8)
    except ValueError:
        raise ComposeError(f"{where}: expected an octal file mode like 0440, got {value!r}") from None


def ulimits(value: object, where: str) -> dict[str, tuple[int, int]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ComposeError(f"{where}: expected a mapping")
    out: dict[str, tuple[int, int]] = {}
    for name, body in value.items():
        at = f"{where}.{name}"
        if isinstance(body, dict):
            soft, hard = _int(body.get("soft"), f"{at}.soft"), _int(body.get("hard"), f"{at}.hard")
        else:
            soft = hard = _int(body, at)
        out[str(name)] = (soft, hard)
    return out


def extra_hosts(value: object, where: str) -> tuple[str, ...]:
    """`host:ip`, `host=ip` or a mapping -> ("host:ip", ...); IPv6 addresses keep their colons."""
    if value is None:
        return ()
    if isinstance(value, dict):
        items = [f"{k}:{ip}" for k, ips in value.items() for ip in (ips if isinstance(ips, list) else [ips])]
        return tuple(v.string(i, where) for i in items)
    out = []
    for i, item in enumerate(v.string_list(value, where)):
        host, sep, ip = item.partition("=")
        if not sep:
            host, sep, ip = item.partition(":")
        if not sep or not host or not ip:
            raise ComposeError(f"{where}[{i}]: expected HOST:IP or HOST=IP, got {item!r}")
        out.append(f"{host}:{ip.strip('[]')}")
    return tuple(out)


def namespace(value: object, where: str, services: set[str], allowed: str) -> str | None:
    """`network_mode`, `ipc` or `pid`; `service:NAME` must name a service of this file."""
    if value is None:
        return None
    text = v.string(value, where)
    if not NAMESPACE.fullmatch(text) or text.split(":")[0] not in allowed.split("|"):
        raise ComposeError(
            f"{where}: expected one of {allowed.replace('|', ', ')} (or KIND:NAME), got {text!r}"
        )
    if text.startswith("service:") and text[8:] not in services:
        raise ComposeError(f"{where}: unknown service {text[8:]!r}")
    return text


def links(value: object, where: str, services: set[str]) -> tuple[str, ...]:
    out = []
    for i, item in enumerate(v.string_list(value or [], where)):
        name, _, alias = item.partition(":")
        if name not in services:
            raise ComposeError(f"{where}[{i}]: unknown service {name!r}")
        out.append(f"{name}:{alias or name}")
    return tuple(out)


def logging(value: object, where: str) -> LogConfig | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ComposeError(f"{where}: expected a mapping with driver and options")
    driver = None if value.get("driver") is None else v.string(value["driver"], f"{where}.driver")
    return LogConfig(driver, v.mapping(value.get("options"), f"{where}.options"))


def devices(value: object, where: str) -> tuple[str, ...]:
    """`/dev/x[:/dev/y[:rwm]]` strings, or the long form with source/target/permissions."""
    out = []
    items = value if isinstance(value, list) else ([] if value is None else [value])
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if isinstance(item, dict):
            src = v.string(item.get("source", ""), f"{at}.source")
            item = ":".join([src, v.string(item.get("target", src), f"{at}.target"),
                             v.string(item.get("permissions", "rwm"), f"{at}.permissions")])  # fmt: skip
        text = v.string(item, at)
        if not text.startswith("/"):
            raise ComposeError(
                f"{at}: archgen maps device paths (HOST[:CONTAINER[:PERMS]]); CDI device names are "
                f"not supported, got {text!r}"
            )
        out.append(text)
    return tuple(out)


def optional(body: dict[str, Any], key: str, where: str) -> str | None:
    return None if body.get(key) is None else v.string(body[key], f"{where}.{key}")


def optional_size(body: dict[str, Any], key: str, where: str) -> int | None:
    return None if body.get(key) is None else v.size(body[key], f"{where}.{key}")


def optional_int(body: dict[str, Any], key: str, where: str) -> int | None:
    return None if body.get(key) is None else _int(body[key], f"{where}.{key}")


def flag(body: dict[str, Any], key: str, where: str) -> bool:
    value = body.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ComposeError(f"{where}.{key}: expected true or false, got {value!r}")


def _int(value: object, where: str) -> int:
    if isinstance(value, bool) or value is None:
        raise ComposeError(f"{where}: expected an integer, got {value!r}")
    try:
        return int(str(value))
    except ValueError:
        raise ComposeError(f"{where}: expected an integer, got {value!r}") from None


def agree(a: Any, b: Any, what: str, where: str, other: str = "deploy.resources.limits") -> Any:
    """Compose's rule for `mem_limit`/`cpus` next to `deploy.resources.limits`: same value or one."""
    if a is not None and b is not None and a != b:
        raise ComposeError(f"{where}: {what} and {other} disagree ({a} vs {b})")
    return a if a is not None else b


CONTAINER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")


def settings(
    body: dict[str, Any],
    w: str,
    *,
    names: set[str],
    files: dict[str, dict[str, tuple[str | None, bytes | None]]],
    contents: dict[str, bytes],
) -> dict[str, Any]:
    """The `Service` fields added for issue 15, as keyword arguments."""
    deploy = body.get("deploy") or {}
    reservations = (deploy.get("resources") or {}).get("reservations") or {}
    read_only = flag(body, "read_only", w)
    name = optional(body, "container_name", w)
    if name is not None and not CONTAINER_NAME.fullmatch(name):
        raise ComposeError(f"{w}.container_name: invalid container name {name!r}")
    mounts = [
        *service_files("secrets", body.get("secrets"), f"{w}.secrets", files["secrets"], contents, read_only),
        *service_files("configs", body.get("configs"), f"{w}.configs", files["configs"], contents, read_only),
    ]
    reserved_memory = optional_size(reservations, "memory", f"{w}.deploy.resources.reservations")
    swap = body.get("memswap_limit")
    return {
        "container_name": name,
        "files": tuple(mounts),
        "ulimits": ulimits(body.get("ulimits"), f"{w}.ulimits"),
        "sysctls": v.mapping(body.get("sysctls"), f"{w}.sysctls"),
        "extra_hosts": extra_hosts(body.get("extra_hosts"), f"{w}.extra_hosts"),
        "network_mode": namespace(
            body.get("network_mode"), f"{w}.network_mode", names, "host|none|bridge|service|container"
        ),
        "links": links(body.get("links"), f"{w}.links", names),
        "ipc": namespace(body.get("ipc"), f"{w}.ipc", names, "host|private|shareable|none|service|container"),
        "pid": namespace(body.get("pid"), f"{w}.pid", names, "host|service|container"),
        "shm_size": optional_size(body, "shm_size", w),
        "tty": flag(body, "tty", w),
        "stdin_open": flag(body, "stdin_open", w),
        "privileged": flag(body, "privileged", w),
        "devices": devices(body.get("devices"), f"{w}.devices"),
        "dns": v.string_list(body.get("dns") or [], f"{w}.dns"),
        "dns_search": v.string_list(body.get("dns_search") or [], f"{w}.dns_search"),
        "dns_opt": v.string_list(body.get("dns_opt") or [], f"{w}.dns_opt"),
        "logging": logging(body.get("logging"), f"{w}.logging"),
        "platform": optional(body, "platform", w),
        "runtime": optional(body, "runtime", w),
        "domainname": optional(body, "domainname", w),
        "group_add": v.string_list(body.get("group_add") or [], f"{w}.group_add"),
        "mem_reservation": agree(
            optional_size(body, "mem_reservation", w),
            reserved_memory,
            "mem_reservation",
            w,
            "deploy.resources.reservations",
        ),
        "memswap_limit": swap if swap == -1 else optional_size(body, "memswap_limit", w),
        "cpu_reservation": None
        if reservations.get("cpus") is None
        else _float(reservations["cpus"], f"{w}.deploy.resources.reservations.cpus"),
        "cpu_shares": optional_int(body, "cpu_shares", w),
        "cpuset": optional(body, "cpuset", w),
        "oom_score_adj": optional_int(body, "oom_score_adj", w),
    }


def _float(value: object, where: str) -> float:
    try:
        return float(v.string(value, where))
    except ValueError:
        raise ComposeError(f"{where}: expected a number, got {value!r}") from None


def depends_on(value: object, where: str) -> tuple[Dependency, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(Dependency(v.string(item, where)) for item in value)
    if not isinstance(value, dict):
        raise ComposeError(f"{where}: expected a list or a mapping")
    deps: list[Dependency] = []
    for name, body in value.items():
        body = body or {}
        condition = v.string(body.get("condition", "service_started"), f"{where}.{name}.condition")
        if condition not in CONDITIONS:
            raise ComposeError(
                f"{where}.{name}.condition: expected one of {', '.join(CONDITIONS)}, got {condition!r}"
            )
        required = flag({"required": body.get("required", True)}, "required", f"{where}.{name}")
        deps.append(Dependency(str(name), condition, required))
    return tuple(deps)


def healthcheck(body: object, where: str) -> Healthcheck:
    if not isinstance(body, dict):
        raise ComposeError(f"{where}: expected a mapping")
    if flag(body, "disable", where):
        return Healthcheck(test=("NONE",))
    test: tuple[str, ...] | None = None
    raw = body.get("test")
    if isinstance(raw, str):
        test = ("CMD-SHELL", raw)
    elif raw is not None:
        test = v.string_list(raw, f"{where}.test")
        if not test or test[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise ComposeError(f"{where}.test: a list must start with CMD, CMD-SHELL or NONE")

    def opt(key: str) -> float | None:
        return None if body.get(key) is None else v.duration(body[key], f"{where}.{key}")

    return Healthcheck(
        test=test,
        interval=opt("interval"),
        timeout=opt("timeout"),
        retries=None if body.get("retries") is None else _int(body["retries"], f"{where}.retries"),
        start_period=opt("start_period"),
        start_interval=opt("start_interval"),
    )
