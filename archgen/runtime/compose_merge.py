"""`include` and `extends`: merge other compose files and base services into the raw tree, as Compose does.

Both run on the raw (not yet interpolated) tree, before the keys are checked.
Relative paths in a file from another directory (build contexts, env files, bind
sources, secret and config files) are made absolute against that file's
directory first, so they mean what they meant there.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archgen.errors import ComposeError

ReadFile = Callable[[Path], dict[str, Any]]
# Sequences Compose appends to (without duplicates) when a service extends another.
APPENDED = {"ports", "expose", "dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "security_opt",
            "env_file", "tmpfs", "devices", "links", "group_add", "extra_hosts"}  # fmt: skip
KEYED = {"environment", "labels", "sysctls"}  # list or mapping forms, merged by key
BY_TARGET = {"volumes", "secrets", "configs"}


def resolve_includes(raw: dict[str, Any], root: Path, read: ReadFile, seen: tuple[Path, ...] = ()) -> None:
    """Merge every `include:` entry's services, networks, volumes, secrets and configs into `raw`."""
    entries = raw.pop("include", None)
    if entries is None:
        return
    if not isinstance(entries, list):
        raise ComposeError("include: expected a list of paths or mappings")
    for i, entry in enumerate(entries):
        where = f"include[{i}]"
        body: dict[str, Any] = {"path": entry} if isinstance(entry, str) else entry
        if not isinstance(body, dict) or body.get("path") is None:
            raise ComposeError(f"{where}: expected a path or a mapping with 'path'")
        unknown = set(body) - {"path", "project_directory", "env_file"}
        if unknown:
            raise ComposeError(
                f"{where}: unsupported key '{sorted(unknown)[0]}' (supported: path, project_directory)"
            )
        if body.get("env_file") is not None:
            raise ComposeError(
                f"{where}.env_file: unsupported key 'env_file' (included files are interpolated with "
                "the including project's variables)"
            )
        paths = body["path"] if isinstance(body["path"], list) else [body["path"]]
        merged: dict[str, Any] = {}
        for p in paths:
            path = (root / str(p)).resolve()
            if path in seen:
                raise ComposeError(f"{where}: {path} includes itself")
            if not path.is_file():
                raise ComposeError(f"{where}: no such file: {path}")
            part = read(path)
            base = (root / str(body.get("project_directory", path.parent))).resolve()
            resolve_includes(part, base, read, (*seen, path))
            resolve_extends(part, base, read)
            rebase(part, base)
            for section in ("services", "networks", "volumes", "secrets", "configs"):
                merged.setdefault(section, {}).update(part.get(section) or {})
        for section, items in merged.items():
            mine = raw.get(section)
            if not isinstance(mine, dict):
                mine = raw[section] = {}
            for key, value in items.items():
                if key in mine and (section == "services" or mine[key] != value):
                    raise ComposeError(
                        f"{where}: {section[:-1]} {key!r} is defined both here and in the including file"
                    )
                mine[key] = value


def resolve_extends(raw: dict[str, Any], root: Path, read: ReadFile) -> None:
    """Replace each service that `extends:` another by the merge of the base and its own keys."""
    services = raw.get("services")
    if not isinstance(services, dict):
        return
    done: dict[str, dict[str, Any]] = {}
    for name in list(services):
        services[name] = _extended(services, str(name), root, read, done, ())


def _extended(
    services: dict[str, Any],
    name: str,
    root: Path,
    read: ReadFile,
    done: dict[str, dict[str, Any]],
    stack: tuple[str, ...],
) -> dict[str, Any]:
    key = f"{root}:{name}"
    if key in done:
        return done[key]
    body = services.get(name)
    if not isinstance(body, dict) or "extends" not in body:
        return body  # type: ignore[return-value]
    if key in stack:
        chain = " -> ".join(s.rsplit(":", 1)[-1] for s in (*stack, key))
        raise ComposeError(f"services.{name}.extends: cycle: {chain}")
    spec = body["extends"]
    where = f"services.{name}.extends"
    spec = {"service": spec} if isinstance(spec, str) else spec
    if not isinstance(spec, dict) or not isinstance(spec.get("service"), str):
        raise ComposeError(f"{where}: expected a service name or a mapping with 'service' (and 'file')")
    if set(spec) - {"service", "file"}:
        raise ComposeError(f"{where}: unsupported key '{sorted(set(spec) - {'service', 'file'})[0]}'")
    base_name = spec["service"]
    if spec.get("file") is not None:
        path = (root / str(spec["file"])).resolve()
        if not path.is_file():
            raise ComposeError(f"{where}.file: no such file: {path}")
        other = read(path)
        pool = other.get("services") or {}
        if base_name not in pool:
            raise ComposeError(f"{where}: no service {base_name!r} in {path}")
        base = _extended(pool, base_name, path.parent, read, {}, (*stack, key))
        base = copy.deepcopy(base)
        rebase({"services": {base_name: base}}, path.parent)
    else:
        if base_name not in services:
            raise ComposeError(f"{where}: unknown service {base_name!r}")
        base = copy.deepcopy(_extended(services, base_name, root, read, done, (*stack, key)))
    own = {k: val for k, val in body.items() if k != "extends"}
    result = merge_service(base, own)
    done[key] = result
    return result


def merge_service(base: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge rules: mappings merge, some lists append, mounts merge by target, else own wins."""
    out = dict(base)
    for key, value in own.items():
        old = out.get(key)
        if old is None or value is None:
            out[key] = value if value is not None else old
        elif key in KEYED:
            out[key] = {**_keyed(old), **_keyed(value)}
        elif key in APPENDED and isinstance(old, list) and isinstance(value, list):
            out[key] = [*old, *[item for item in value if item not in old]]
        elif key in BY_TARGET and isinstance(old, list) and isinstance(value, list):
            merged = {_target(item): item for item in old}
            merged.update({_target(item): item for item in value})
            out[key] = list(merged.values())
        elif key == "depends_on":
            out[key] = {**_deps(old), **_deps(value)}
        elif isinstance(old, dict) and isinstance(value, dict):
            out[key] = _deep(old, value)
        else:
            out[key] = value
    return out


def _deep(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for key, value in b.items():
        both = isinstance(out.get(key), dict) and isinstance(value, dict)
        out[key] = _deep(out[key], value) if both else value
    return out


def _keyed(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value if isinstance(value, list) else []:
        k, sep, rest = str(item).partition("=")
        out[k] = rest if sep else None
    return out


def _deps(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    return {str(item): {"condition": "service_started"} for item in value or []}


def _target(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target") or item.get("source"))
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def rebase(raw: dict[str, Any], base: Path) -> None:
    """Make relative host paths in `raw` absolute against `base` (a file from another directory)."""

    def fix(path: Any) -> Any:
        if not isinstance(path, str) or path.startswith(("/", "~", "$")):
            return path
        return os.path.normpath(base / path)

    for body in (raw.get("services") or {}).values():
        if not isinstance(body, dict):
            continue
        build = body.get("build")
        if isinstance(build, str):
            body["build"] = fix(build)
        elif isinstance(build, dict):
            build["context"] = fix(build.get("context", "."))
        env_file = body.get("env_file")
        if isinstance(env_file, str):
            body["env_file"] = fix(env_file)
        elif isinstance(env_file, list):
            body["env_file"] = [
                {**e, "path": fix(e.get("path"))} if isinstance(e, dict) else fix(e) for e in env_file
            ]
        mounts = []
        for item in body.get("volumes") or []:
            if isinstance(item, str) and item.startswith("."):
                source, sep, rest = item.partition(":")
                item = f"{fix(source)}{sep}{rest}"
            elif isinstance(item, dict) and item.get("type") == "bind":
                item = {**item, "source": fix(item.get("source"))}
            mounts.append(item)
        if mounts:
            body["volumes"] = mounts
        ext = body.get("extends")
        if isinstance(ext, dict) and ext.get("file"):
            ext["file"] = fix(ext["file"])
    for section in ("secrets", "configs"):
        for spec in (raw.get(section) or {}).values():
            if isinstance(spec, dict) and spec.get("file"):
                spec["file"] = fix(spec["file"])
