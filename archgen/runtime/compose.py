"""Load `compose.yaml` (+ `.env`): validate keys, interpolate, normalise into `model` dataclasses.

Only the compose keys archgen really runs are accepted; any other key is refused
by name (with where it sits), so a file never half-works. Extension fields
(`x-*`) are accepted and ignored, and the obsolete top-level `version` is ignored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from archgen.errors import ComposeError
from archgen.runtime import compose_service as cs
from archgen.runtime import values as v
from archgen.runtime.compose_keys import check_keys
from archgen.runtime.compose_merge import resolve_extends, resolve_includes
from archgen.runtime.compose_resources import network_spec, volume_spec
from archgen.runtime.graph import check_dependencies, dependency_order
from archgen.runtime.interpolate import Interpolator, parse_env_file
from archgen.runtime.model import (
    BuildSpec,
    Dependency,
    Mount,
    NetworkSpec,
    Project,
    Service,
    VolumeSpec,
)

COMPOSE_FILE = "compose.yaml"
# The names `docker compose` looks for, in its order; archgen renders the first.
COMPOSE_FILES = (COMPOSE_FILE, "compose.yml", "docker-compose.yaml", "docker-compose.yml")
SPEC_FILE = "archgen.yaml"

RESTART = re.compile(r"no|always|unless-stopped|on-failure(:\d+)?")
PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
SERVICE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*")
__all__ = ["check_keys", "load_project", "project_env", "project_name_only", "read_compose", "resolve_name"]
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ComposeLoader(_BASE_LOADER):  # type: ignore[misc]
    """A safe loader with YAML 1.2 scalars, as compose reads them.

    PyYAML follows YAML 1.1, where `80:80` is the base-60 integer 4880 and `no`
    is false; compose files mean the string `"80:80"` and the restart policy `no`.
    """


_YAML_11_ONLY = ("bool", "int", "float", "timestamp")
_ComposeLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag.rsplit(":", 1)[-1] not in _YAML_11_ONLY]
    for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
}
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9_]*|0x[0-9a-fA-F_]+)$"), list("-+0123456789")
)
_ComposeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
PULL_POLICIES = {
    "always": "always",
    "never": "never",
    "missing": "missing",
    "if_not_present": "missing",
    "build": "build",
}


def load_project(
    directory: Path | None = None,
    *,
    name: str | None = None,
    profiles: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    targets: Sequence[str] = (),
    lenient: bool = False,
) -> Project:
    """Load the project in `directory` (default: the current one).

    `targets` are the services named on the command line (`up SERVICE...`): they
    run whatever their profiles, with their dependencies, and nothing else does.
    `lenient` reads a project to draw it: required variables without a value are
    empty strings (and warnings) instead of errors.

    Raises:
        ComposeError: a missing or malformed file, an unsupported key, a bad
            interpolation, an unknown reference, or a dependency cycle.
    """
    root = (directory or Path.cwd()).absolute()
    raw = read_compose(root)
    resolve_includes(raw, root, _read_file)
    resolve_extends(raw, root, _read_file)
    notes = check_keys(raw)
    env = project_env(root, environ)
    interpolator = Interpolator(env, lenient=lenient)
    tree = interpolator.expand_tree(raw, "")
    assert isinstance(tree, dict)
    project_name = resolve_name(root, name, tree.get("name"))
    active_profiles = set(profiles) | {
        p.strip() for p in (environ or os.environ).get("COMPOSE_PROFILES", "").split(",") if p.strip()
    }
    project = _normalise(tree, project_name, root, env, active_profiles, list(targets))
    project.warnings.extend(notes)
    project.warnings.extend(
        f"variable {var} is not set; using an empty string" for var in sorted(interpolator.missing)
    )
    return project


def read_compose(root: Path) -> dict[str, Any]:
    path = next((root / n for n in COMPOSE_FILES if (root / n).is_file()), root / COMPOSE_FILE)
    return _read_file(path, root)


def _read_file(path: Path, root: Path | None = None) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ComposeError(
            f"no {COMPOSE_FILE} in {root or path.parent}",
            hint="run archgen inside a rendered project, or point -C/--project-dir at one",
        ) from None
    try:
        data = yaml.load(text, Loader=_ComposeLoader)  # safe, YAML 1.2 scalars, libyaml when present
    except yaml.YAMLError as error:
        raise ComposeError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ComposeError(f"{path}: expected a mapping at the top level")
    return data


def project_env(root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variables for interpolation: the project's `.env`, overridden by the process environment."""
    process = dict(os.environ if environ is None else environ)
    dotenv = root / ".env"
    values = parse_env_file(dotenv, process) if dotenv.is_file() else {}
    return {**values, **process}


def resolve_name(root: Path, override: str | None, compose_name: object = None) -> str:
    """`-p`, else `name:` in `archgen.yaml`, else the compose file's `name:`; never the directory."""
    source = "-p"
    candidate: object = override
    if candidate is None:
        spec = root / SPEC_FILE
        if spec.is_file():
            try:
                data = yaml.safe_load(spec.read_text(encoding="utf-8"))
            except yaml.YAMLError as error:
                raise ComposeError(f"{spec}: not valid YAML: {error}") from None
            if isinstance(data, dict) and data.get("name") is not None:
                candidate, source = data["name"], str(spec)
    if candidate is None and compose_name is not None:
        candidate, source = compose_name, f"{root / COMPOSE_FILE} (name:)"
    if candidate is None:
        raise ComposeError(
            "cannot tell the project name",
            hint=f"pass -p NAME, or set `name:` in {SPEC_FILE} or {COMPOSE_FILE}",
        )
    text = str(candidate)
    if not PROJECT_NAME.fullmatch(text):
        raise ComposeError(
            f"invalid project name {text!r} (from {source})",
            hint="use lowercase letters, digits, '-' and '_', starting with a letter or digit",
        )
    return text


def project_name_only(directory: Path | None, override: str | None) -> str:
    """The project name without loading services (for status and logs)."""
    root = (directory or Path.cwd()).absolute()
    if override is not None or (root / SPEC_FILE).is_file():
        try:
            return resolve_name(root, override)
        except ComposeError:
            if override is not None:
                raise
    raw = read_compose(root)
    name = raw.get("name")
    if isinstance(name, str) and "$" in name:
        name = Interpolator(project_env(root)).expand(name, "name")
    return resolve_name(root, None, name)


# ---------------------------------------------------------------------- normalise


def _normalise(
    tree: dict[str, Any],
    name: str,
    root: Path,
    env: dict[str, str],
    profiles: set[str],
    targets: list[str] | None = None,
) -> Project:
    networks = {
        key: network_spec(key, body or {}, name) for key, body in (tree.get("networks") or {}).items()
    }
    networks.setdefault("default", NetworkSpec("default", f"{name}_default"))
    volumes = {key: volume_spec(key, body or {}, name) for key, body in (tree.get("volumes") or {}).items()}
    warnings: list[str] = []
    files: dict[str, dict[str, tuple[str | None, bytes | None]]] = {}
    for kind in ("secrets", "configs"):
        files[kind], notes = cs.top_files(kind, tree.get(kind), root, env)
        warnings.extend(notes)
    contents: dict[str, bytes] = {}
    names = {str(n) for n in tree["services"]}
    services: dict[str, Service] = {}
    for svc_name, body in tree["services"].items():
        svc_name = str(svc_name)
        if not SERVICE_NAME.fullmatch(svc_name):
            raise ComposeError(f"services.{svc_name}: invalid service name")
        services[svc_name] = _service(
            svc_name, body, name, root, env, networks, volumes, files=files, contents=contents, names=names
        )
    if targets:
        unknown = [t for t in targets if t not in services]
        if unknown:
            raise ComposeError(
                f"no such service: {', '.join(unknown)}", hint=f"services: {', '.join(services)}"
            )
        # A service named on the command line runs whatever its profiles: they become active.
        profiles = profiles | {p for t in targets for p in services[t].profiles}
    enabled = {
        s.name for s in services.values() if not s.profiles or "*" in profiles or profiles & set(s.profiles)
    }
    if targets:
        wanted: set[str] = set()
        stack = list(targets)
        while stack:
            current = stack.pop()
            if current not in wanted:
                wanted.add(current)
                stack += [
                    d.service
                    for d in services[current].depends_on
                    if d.service in services and (d.required or d.service in enabled)
                ]
        # Only the targets' profiles are activated: a dependency in another, inactive profile is refused.
        enabled &= wanted
    check_dependencies(services, enabled)
    active = [s for s in dependency_order(services) if s in enabled]
    used = {net for s in active for net in services[s].networks}
    networks_used = {k: n for k, n in networks.items() if n.name in used}
    project = Project(name, root, services, active, networks_used, volumes, warnings)
    project.contents = contents
    _check_container_names(project)
    return project


def _check_container_names(project: Project) -> None:
    seen: dict[str, str] = {}
    for service in project.active_services():
        if service.container_name is None:
            continue
        if service.replicas > 1:
            raise ComposeError(
                f"services.{service.name}.container_name: a fixed container name allows one replica, "
                f"and the service asks for {service.replicas}"
            )
        if service.container_name in seen:
            raise ComposeError(
                f"services.{service.name}.container_name: {service.container_name!r} is also the "
                f"container name of service {seen[service.container_name]!r}"
            )
        seen[service.container_name] = service.name


def _service(
    name: str,
    body: dict[str, Any],
    project: str,
    root: Path,
    env: dict[str, str],
    networks: dict[str, NetworkSpec],
    volumes: dict[str, VolumeSpec],
    *,
    files: dict[str, dict[str, tuple[str | None, bytes | None]]] | None = None,
    contents: dict[str, bytes] | None = None,
    names: set[str] | None = None,
) -> Service:
    w = f"services.{name}"
    extra = cs.settings(
        body,
        w,
        names=names if names is not None else {name},
        files=files or {"secrets": {}, "configs": {}},
        contents=contents if contents is not None else {},
    )
    mode = extra["network_mode"]
    if mode is not None and body.get("networks") is not None:
        raise ComposeError(f"{w}: network_mode and networks cannot be used together")
    # The engine refuses to publish ports from another container's network namespace
    # (with `host` it only drops them, as it does for `docker compose`).
    if mode is not None and mode.startswith(("service:", "container:")) and body.get("ports"):
        raise ComposeError(f"{w}.ports: a service with network_mode {mode} cannot publish ports")
    depends_on = list(cs.depends_on(body.get("depends_on"), f"{w}.depends_on"))
    listed = {d.service for d in depends_on}
    # Links and shared namespaces need the other container first, as Compose orders them.
    implicit = [link.split(":")[0] for link in extra["links"]]
    implicit += [m[8:] for m in (mode, extra["ipc"], extra["pid"]) if m and m.startswith("service:")]
    for other in implicit:
        if other not in listed:
            depends_on.append(Dependency(other))
            listed.add(other)
    build = _build(body["build"], f"{w}.build", root, env) if body.get("build") is not None else None
    if body.get("image") is None and build is None:
        raise ComposeError(f"{w}: a service needs 'image' or 'build'")
    image = (
        normalise_ref(v.string(body["image"], f"{w}.image"))
        if body.get("image")
        else f"{project}-{name}:latest"
    )
    environment: dict[str, str] = {}
    for path in _env_files(body.get("env_file"), f"{w}.env_file", root):
        environment.update(parse_env_file(path, env))
    environment.update(v.mapping(body.get("environment"), f"{w}.environment", env))
    deploy = body.get("deploy") or {}
    limits = (deploy.get("resources") or {}).get("limits") or {}
    restart = v.string(body.get("restart", "no"), f"{w}.restart")
    if not RESTART.fullmatch(restart):
        raise ComposeError(
            f"{w}.restart: expected no, always, unless-stopped or on-failure[:N], got {restart!r}"
        )
    replicas = deploy.get("replicas", body.get("scale", 1))
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise ComposeError(f"{w}.deploy.replicas: expected a non-negative integer, got {replicas!r}")
    pull = body.get("pull_policy")
    if pull is not None and pull not in PULL_POLICIES:
        raise ComposeError(f"{w}.pull_policy: expected one of {', '.join(PULL_POLICIES)}, got {pull!r}")
    ports = [p for i, item in enumerate(body.get("ports") or []) for p in v.ports(item, f"{w}.ports[{i}]")]
    return Service(
        name=name,
        image=image,
        build=build,
        command=v.command(body.get("command"), f"{w}.command"),
        entrypoint=v.command(body.get("entrypoint"), f"{w}.entrypoint"),
        environment=environment,
        ports=tuple(ports),
        expose=v.expose(body["expose"], f"{w}.expose") if body.get("expose") else (),
        mounts=tuple(_mounts(body.get("volumes") or [], f"{w}.volumes", root, volumes)),
        tmpfs=_tmpfs(body.get("tmpfs"), f"{w}.tmpfs"),
        networks={} if mode else _service_networks(name, body.get("networks"), f"{w}.networks", networks),
        depends_on=tuple(depends_on),
        healthcheck=cs.healthcheck(body["healthcheck"], f"{w}.healthcheck")
        if body.get("healthcheck")
        else None,
        restart=restart,
        replicas=replicas,
        cpus=cs.agree(
            None if body.get("cpus") is None else cs._float(body["cpus"], f"{w}.cpus"),
            None if "cpus" not in limits else cs._float(limits["cpus"], f"{w}.deploy.resources.limits.cpus"),
            "cpus",
            w,
        ),
        memory=cs.agree(
            cs.optional_size(body, "mem_limit", w),
            cs.optional_size(limits, "memory", f"{w}.deploy.resources.limits"),
            "mem_limit",
            w,
        ),
        pids=_int(limits["pids"], f"{w}.deploy.resources.limits.pids") if "pids" in limits else None,
        user=None if body.get("user") is None else v.string(body["user"], f"{w}.user"),
        working_dir=None
        if body.get("working_dir") is None
        else v.string(body["working_dir"], f"{w}.working_dir"),
        read_only=_bool(body.get("read_only", False), f"{w}.read_only"),
        cap_add=v.string_list(body.get("cap_add") or [], f"{w}.cap_add"),
        cap_drop=v.string_list(body.get("cap_drop") or [], f"{w}.cap_drop"),
        security_opt=v.string_list(body.get("security_opt") or [], f"{w}.security_opt"),
        init=None if body.get("init") is None else _bool(body["init"], f"{w}.init"),
        labels=v.mapping(body.get("labels"), f"{w}.labels"),
        stop_grace_period=(
            v.duration(body["stop_grace_period"], f"{w}.stop_grace_period")
            if body.get("stop_grace_period") is not None
            else None
        ),
        stop_signal=None
        if body.get("stop_signal") is None
        else v.string(body["stop_signal"], f"{w}.stop_signal"),
        hostname=None if body.get("hostname") is None else v.string(body["hostname"], f"{w}.hostname"),
        profiles=v.string_list(body.get("profiles") or [], f"{w}.profiles"),
        pull_policy=None if pull is None else PULL_POLICIES[pull],
        network_ips={} if mode else _network_ips(body.get("networks"), f"{w}.networks", networks),
        **extra,
    )


def normalise_ref(ref: str) -> str:
    """`postgres` -> `postgres:latest`; refs with a tag or digest are kept."""
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


def _bool(value: object, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ComposeError(f"{where}: expected true or false, got {value!r}")


def _int(value: object, where: str) -> int:
    if isinstance(value, bool):
        raise ComposeError(f"{where}: expected an integer, got {value!r}")
    try:
        return int(str(value))
    except ValueError:
        raise ComposeError(f"{where}: expected an integer, got {value!r}") from None


def _build(body: object, where: str, root: Path, env: dict[str, str]) -> BuildSpec:
    if isinstance(body, str):
        return BuildSpec(context=str((root / body).resolve()))
    if not isinstance(body, dict):
        raise ComposeError(f"{where}: expected a path or a mapping")
    context = (root / v.string(body.get("context", "."), f"{where}.context")).resolve()
    if not context.is_dir():
        raise ComposeError(f"{where}.context: directory not found: {context}")
    return BuildSpec(
        context=str(context),
        dockerfile=None
        if body.get("dockerfile") is None
        else v.string(body["dockerfile"], f"{where}.dockerfile"),
        args=v.mapping(body.get("args"), f"{where}.args", env),
        target=None if body.get("target") is None else v.string(body["target"], f"{where}.target"),
    )


def _env_files(value: object, where: str, root: Path) -> list[Path]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    paths: list[Path] = []
    for i, item in enumerate(items):
        required = True
        if isinstance(item, dict):
            required = _bool(item.get("required", True), f"{where}[{i}].required")
            item = item.get("path")
        path = (root / os.path.expanduser(v.string(item, f"{where}[{i}]"))).absolute()
        if path.is_file() or required:
            paths.append(path)
    return paths


def _mounts(items: object, where: str, root: Path, volumes: dict[str, VolumeSpec]) -> list[Mount]:
    if not isinstance(items, list):
        raise ComposeError(f"{where}: expected a list")
    mounts: list[Mount] = []
    for i, item in enumerate(items):
        at = f"{where}[{i}]"
        if isinstance(item, dict):
            kind = v.string(item.get("type", "volume"), f"{at}.type")
            if kind not in ("volume", "bind"):
                raise ComposeError(
                    f"{at}.type: archgen supports 'volume' and 'bind' here (use tmpfs: for tmpfs)"
                )
            source = None if item.get("source") is None else v.string(item["source"], f"{at}.source")
            target = v.string(item.get("target", ""), f"{at}.target")
            read_only = _bool(item.get("read_only", False), f"{at}.read_only")
        else:
            parts = v.string(item, at).split(":")
            if len(parts) == 1:
                source, target, mode = None, parts[0], ""
            elif len(parts) in (2, 3):
                source, target, mode = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
            else:
                raise ComposeError(f"{at}: expected SOURCE:TARGET[:MODE], got {item!r}")
            read_only = "ro" in mode.split(",")
            kind = "bind" if source and source[0] in "./~" else "volume"
        if not target.startswith("/"):
            raise ComposeError(f"{at}: the target must be an absolute path inside the container")
        if kind == "bind":
            if not source:
                raise ComposeError(f"{at}: a bind mount needs a source path")
            source = os.path.normpath(root / os.path.expanduser(source))
        elif source is not None:
            if source not in volumes:
                raise ComposeError(
                    f"{at}: volume {source!r} is not declared",
                    hint=f"declare it under the top-level 'volumes:' key, or use ./{source} for a bind mount",
                )
            source = volumes[source].name
        mounts.append(Mount(kind, source, target, read_only))
    return mounts


def _tmpfs(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    out: dict[str, str] = {}
    for item in v.string_list(value, where):
        path, _, options = item.partition(":")
        out[path] = options
    return out


def _service_networks(
    service: str, value: object, where: str, networks: dict[str, NetworkSpec]
) -> dict[str, tuple[str, ...]]:
    if value is None:
        entries: dict[str, Any] = {"default": None}
    elif isinstance(value, list):
        entries = {v.string(item, where): None for item in value}
    elif isinstance(value, dict):
        entries = dict(value)
    else:
        raise ComposeError(f"{where}: expected a list or a mapping")
    out: dict[str, tuple[str, ...]] = {}
    for key, body in entries.items():
        if key not in networks:
            raise ComposeError(
                f"{where}.{key}: network {key!r} is not declared under the top-level 'networks:'"
            )
        aliases = v.string_list((body or {}).get("aliases") or [], f"{where}.{key}.aliases")
        out[networks[key].name] = (service, *[a for a in aliases if a != service])
    return out


def _network_ips(value: object, where: str, networks: dict[str, NetworkSpec]) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for key, body in (value or {}).items() if isinstance(value, dict) else ():
        if isinstance(body, dict) and (body.get("ipv4_address") or body.get("ipv6_address")):
            v4 = v.string(body.get("ipv4_address") or "", f"{where}.{key}.ipv4_address")
            v6 = v.string(body.get("ipv6_address") or "", f"{where}.{key}.ipv6_address")
            out[networks[key].name] = (v4, v6)
    return out
