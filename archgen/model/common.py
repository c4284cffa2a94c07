"""Defaults and the builders every architecture shares: the edge, the app, its database and Redis."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any

from archgen import __version__
from archgen.catalog import CATALOG, Component, Healthcheck
from archgen.model._grpc import grpc_context
from archgen.model.graph import Port
from archgen.model.workload import (
    COMPLETED,
    Build,
    Dependency,
    Mount,
    PublishedPort,
    Security,
    Workload,
    healthy,
)
from archgen.variables import APP_LOG_LEVEL, REDIS_PASSWORD, EnvValue

TIERS = ("edge", "application", "data", "platform")
EDGE_CONFIG_LABEL = "io.archgen.edge-config"  # the digest of the edge's context

DEFAULTS: dict[str, Any] = {
    "proxy": {"kind": "nginx", "http_port": 8080, "https_port": 8443, "bind": "127.0.0.1",
              "body_limit_mb": 10, "timeout": 60},
    "load_balancer": {"kind": "haproxy", "algorithm": "round_robin", "http_port": 8080,
                      "https_port": 8443, "bind": "127.0.0.1", "body_limit_mb": 10, "timeout": 60},
    "gateway": {"kind": "envoy", "http_port": 8080, "https_port": 8443, "bind": "127.0.0.1",
                "body_limit_mb": 10, "timeout": 60},
    "app": {"api": ["rest"], "replicas": 3,
            "entities": [{"name": "item", "fields": {"name": "str", "description": "str?"}}]},
    "database": {"engine": "mongodb", "name": "app", "replicas": 3},
    "cache": {"engine": "redis", "rate_limit": {"requests": 100, "window": 60,
                                                "on_unavailable": "allow"},
              "ttl": 300, "sentinel": True},
    "bus": {"kind": "kafka"},
    "auth": {"provider": "keycloak"},
    "observability": ["prometheus", "grafana", "jaeger"],
    "service": {"database": "postgres", "api": ["rest"], "replicas": 1},
}

APP_PORT = 8000
CONNECT_TIMEOUT_MS = 5000
TLS_DIR = "/etc/archgen/tls"
FRONTEND = "frontend"
BACKEND = "backend"
EDGE_DIRS = {"proxy": "proxy", "load_balancer": "lb", "gateway": "gateway"}
EDGE_LABELS = {"proxy": "reverse proxy", "load_balancer": "load balancer", "gateway": "gateway"}
_CONFIG_FILES = {"nginx": "nginx.conf", "httpd": "httpd.conf", "envoy": "envoy.yaml",
                 "haproxy": "haproxy.cfg"}
_DURATION = re.compile(r"^(\d+)(ms|s|m|h)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
_SAMPLES: dict[str, Any] = {"str": "example", "int": 1, "float": 1.5, "bool": True,
                            "datetime": "2024-01-01T00:00:00Z", "list[str]": ["a", "b"],
                            "list[int]": [1, 2], "list[float]": [1.5, 2.5]}


def seconds(value: int | str) -> int:
    """Turn a spec duration (integer seconds or `500ms`, `60s`, `5m`, `1h`) into whole seconds."""
    if isinstance(value, int):
        return value
    match = _DURATION.match(value)
    if not match:  # the schema already refused it; this guards direct callers
        raise ValueError(f"not a duration: {value!r}")
    return max(1, round(int(match.group(1)) * _UNIT_SECONDS[match.group(2)]))


def merged(spec: dict[str, Any], key: str) -> dict[str, Any]:
    block = spec.get(key)
    result = dict(DEFAULTS[key])
    if isinstance(block, dict):
        result.update(block)
    return result


def snake(name: str) -> str:
    return name.replace("-", "_")


def entity(raw: dict[str, Any]) -> dict[str, Any]:
    name = snake(raw["name"])
    fields = []
    for field_name, type_text in raw["fields"].items():
        required = not type_text.endswith("?")
        fields.append({"name": field_name, "type": type_text.rstrip("?"), "required": required})
    plural = raw.get("plural") or raw["name"] + "s"
    return {
        "name": name,
        "plural": snake(plural),
        "path": snake(plural),
        "class_name": "".join(part.capitalize() for part in name.split("_")),
        "fields": fields,
        "sample": {f["name"]: _SAMPLES[f["type"]] for f in fields},
    }


def healthcheck(kind: str) -> dict[str, object] | None:
    check = CATALOG[kind].healthcheck
    return check.as_compose() if check else None


def digest(*values: object) -> str:
    """A stable hash of what a mounted config file is rendered from (no engine compares files)."""
    text = json.dumps([__version__, *values], sort_keys=True, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# -- the edge: proxy, load balancer or gateway -------------------------------------------------

def hardened(kind: str, user: str | None = None) -> Security:
    """The catalog's hardening for `kind`: every capability dropped but what it names."""
    hardening = CATALOG[kind].hardening
    return Security(user=user, read_only=hardening.read_only, tmpfs=hardening.tmpfs,
                    cap_drop=("ALL",), cap_add=hardening.cap_add, no_new_privileges=True,
                    reason=hardening.reason)


def edge_block(role: str, block: dict[str, Any], upstreams: list[dict[str, Any]]) -> dict[str, Any]:
    """The template data of the edge; `upstreams` are the replicas it forwards to."""
    entry = CATALOG[block["kind"]]
    timeout = seconds(block["timeout"])
    service = EDGE_DIRS[role]
    return {
        "kind": block["kind"],
        "role": role,
        "label": EDGE_LABELS[role],
        "service": service,
        "dir": service,
        "image": entry.image,
        "bind": block["bind"],
        # Where a client on this machine reaches the published ports.
        "client_host": "127.0.0.1" if block["bind"] == "0.0.0.0" else block["bind"],
        "http_port": block["http_port"],
        "https_port": block["https_port"],
        "listen_http": entry.ports["http"],
        "listen_https": entry.ports["https"],
        "admin_port": entry.ports.get("admin"),
        "config_file": _CONFIG_FILES[block["kind"]],
        "config_path": entry.config_path,
        "tls_cert_path": f"{TLS_DIR}/cert.pem",
        "tls_key_path": f"{TLS_DIR}/key.pem",
        "body_limit_mb": block["body_limit_mb"],
        "timeouts": {"connect_ms": CONNECT_TIMEOUT_MS, "read": timeout, "send": timeout},
        "upstream": {"host": "app", "port": APP_PORT},
        "upstreams": upstreams,
        "balanced": False,
        "algorithm": block.get("algorithm", "round_robin"),
        "health": None,
        "healthcheck": healthcheck(block["kind"]),
    }


def catalog_ports(kind: str) -> tuple[Port, ...]:
    """The ports a component of `kind` serves (none published)."""
    return tuple(Port(name, number) for name, number in CATALOG[kind].ports.items())


def edge_ports(block: dict[str, Any], entry: Component) -> tuple[Port, ...]:
    return (
        Port("http", entry.ports["http"], block["http_port"], block["bind"]),
        Port("https", entry.ports["https"], block["https_port"], block["bind"]),
    )


def edge_workload(edge: dict[str, Any], depends: tuple[str, ...]) -> Workload:
    """The only published workload: TLS ends here."""
    kind = edge["kind"]
    entry = CATALOG[kind]
    folder = f"./{edge['dir']}"
    mounts = [Mount(f"{folder}/{edge['config_file']}", str(edge["config_path"]), read_only=True),
              Mount(f"{folder}/tls", TLS_DIR, read_only=True)]
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: tuple[tuple[str, EnvValue], ...] = ()
    comments: list[tuple[str, str]] = []
    user: str | None = None
    if kind == "haproxy":
        user = "0"
        comments.append(("user", "Starts as root only to read the 0600 TLS key; `user haproxy` in "
                                 "haproxy.cfg drops it."))
    elif kind == "envoy":
        environment = (("ENVOY_UID", "0"),)
        comments.append(("environment", f"Keep root so Envoy can read the 0600 TLS key mounted "
                                        f"from {edge['dir']}/tls."))
    elif kind == "nginx" and edge["balanced"]:
        entrypoint = ("sh", "/etc/archgen/lb/nginx-upstreams.sh")
        command = ("nginx", "-g", "daemon off;")
        mounts.append(Mount(f"{folder}/nginx-upstreams.sh", "/etc/archgen/lb/nginx-upstreams.sh",
                            read_only=True))
        comments.append(("entrypoint", "nginx resolves upstream names once per (re)load: this "
                                       "wrapper writes the replicas' addresses into the upstream "
                                       "block, starts nginx, and reloads it when one changes."))
    comments.append(("labels", "The config is a mounted file, which no engine compares: this "
                               "label changes with every input of that file, so `up` recreates "
                               f"the {edge['label']} exactly when its config changes."))
    return Workload(
        name=str(edge["service"]),
        node=str(edge["service"]),
        kind=kind,
        image=entry.image,
        command=command,
        entrypoint=entrypoint,
        environment=environment,
        ports=(PublishedPort("http", edge["listen_http"], edge["http_port"], edge["bind"]),
               PublishedPort("https", edge["listen_https"], edge["https_port"], edge["bind"])),
        mounts=tuple(mounts),
        healthcheck=entry.healthcheck,
        depends_on=healthy(*depends),
        memory="128M",
        security=hardened(kind, user),
        networks=(FRONTEND,),
        labels=((EDGE_CONFIG_LABEL, digest(edge)),),
        field_comments=tuple(comments),
    )


def relabel_edge(workload: Workload, edge: dict[str, Any]) -> Workload:
    """The edge's workload with its config label recomputed, after `edge` gained a route or listener.

    The label is what makes `up` recreate the edge when its rendered config changes.
    """
    labels = tuple((k, digest(edge) if k == EDGE_CONFIG_LABEL else v) for k, v in workload.labels)
    return replace(workload, labels=labels)


# -- the app ------------------------------------------------------------------------------------

def app_context(spec: dict[str, Any]) -> dict[str, Any]:
    app = merged(spec, "app")
    python = CATALOG["python"]
    entities = app.get("entities") or DEFAULTS["app"]["entities"]
    return {
        "service": "app",
        "dir": "app",
        "image": python.image,
        "python_version": python.tag.split("-")[0].rsplit(".", 1)[0],
        "port": APP_PORT,
        "user": python.user,
        "api": list(app["api"]),
        "grpc": grpc_context(spec["name"], list(app["api"])),
        "entities": [entity(e) for e in entities],
        "healthcheck": healthcheck("python"),
    }


def app_workload(project: str, name: str, app: dict[str, Any],
                 environment: tuple[tuple[str, EnvValue], ...], depends_on: tuple[Dependency, ...],
                 *, test: bool = False) -> Workload:
    """The app (or its test stage, a one-shot job in profile `test`) built from `./<dir>`."""
    python = CATALOG["python"]
    return Workload(
        name=name,
        node=str(app["service"]),
        kind="python",
        image=f"{project}-{app['service']}{'-test' if test else ''}:latest",
        build=Build(f"./{app['dir']}", "test" if test else "runtime"),
        environment=environment,
        healthcheck=None if test else python.healthcheck,
        depends_on=depends_on,
        memory="256M",
        security=hardened("python", python.user),
        init=not test,
        networks=(BACKEND,) if test else (FRONTEND, BACKEND),
        profiles=("test",) if test else (),
        restart="no" if test else "unless-stopped",
        stop_grace_period=None if test else "10s",
        job=test,
    )


def app_settings(cache: dict[str, Any], edge: dict[str, Any]) -> tuple[tuple[str, EnvValue], ...]:
    """What every app instance reads besides where its data lives."""
    limit = cache["rate_limit"]
    return (
        ("APP_RATE_LIMIT_REQUESTS", str(limit["requests"])),
        ("APP_RATE_LIMIT_WINDOW_SECONDS", str(limit["window_seconds"])),
        ("APP_RATE_LIMIT_ON_UNAVAILABLE", limit["on_unavailable"]),
        ("APP_CACHE_TTL_SECONDS", str(cache["ttl_seconds"])),
        # Forwarding headers are believed from the edge only, found by its service name.
        ("APP_TRUSTED_PROXIES", str(edge["service"])),
        ("APP_BODY_LIMIT_BYTES", str(edge["body_limit_mb"] * 1048576)),
        ("APP_LOG_LEVEL", APP_LOG_LEVEL),
    )


# -- data: the database and Redis ---------------------------------------------------------------

def data_context(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    database = merged(spec, "database")
    engine = database["engine"]
    db_entry = CATALOG[engine]
    cache = merged(spec, "cache")
    limit = {**DEFAULTS["cache"]["rate_limit"], **(cache.get("rate_limit") or {})}
    redis = CATALOG["redis"]
    return (
        {"engine": engine, "service": "db", "image": db_entry.image, "port": db_entry.main_port,
         "name": database["name"], "user": "app", "data_path": db_entry.data_path,
         "healthcheck": healthcheck(engine)},
        {"engine": "redis", "service": "redis", "image": redis.image, "port": redis.main_port,
         "rate_limit": {"requests": limit["requests"], "window_seconds": seconds(limit["window"]),
                        "on_unavailable": limit["on_unavailable"]},
         "ttl_seconds": seconds(cache["ttl"]), "sentinel": bool(cache.get("sentinel")),
         "data_path": redis.data_path, "healthcheck": healthcheck("redis")},
    )


def server_workload(name: str, node: str, kind: str, *, environment: tuple[tuple[str, EnvValue], ...],
                    mounts: tuple[Mount, ...] = (), command: tuple[str, ...] | None = None,
                    entrypoint: tuple[str, ...] | None = None, user: str | None = None,
                    depends_on: tuple[Dependency, ...] = (), check: Healthcheck | None = None,
                    memory: str = "512M", grace: str | None = "30s",
                    comment: tuple[str, ...] = (),
                    field_comments: tuple[tuple[str, str], ...] = ()) -> Workload:
    """A database or cache server on the backend network with its data in `<name>-data`."""
    entry = CATALOG[kind]
    assert entry.data_path is not None
    return Workload(
        name=name, node=node, kind=kind, image=entry.image, command=command, entrypoint=entrypoint,
        environment=environment,
        mounts=(Mount(f"{name}-data", entry.data_path), *mounts),
        healthcheck=check or entry.healthcheck, depends_on=depends_on, memory=memory,
        security=hardened(kind, user),
        networks=(BACKEND,), stop_grace_period=grace, stateful=True, comment=comment,
        field_comments=field_comments,
    )


def init_mounts(kind: str) -> tuple[Mount, ...]:
    """The catalog's first-start files for `kind` (the app's own user), mounted read-only."""
    from archgen.catalog import INIT_FILES

    return tuple(Mount(source, target, read_only=True,
                       comment="Run once, on the first start: the app's own user, with rights "
                               "on its database only.")
                 for source, target in INIT_FILES.get(kind, ()))


# Redis reads `requirepass` from its standard input (`redis-server -`), fed from the secret
# file: the password is in neither the environment nor redis-server's arguments.
REDIS_SERVER = ('exec docker-entrypoint.sh redis-server - --appendonly yes <<EOF\n'
                'requirepass "$$(cat "$$REDIS_PASSWORD_FILE")"\nEOF')


def redis_workload(name: str = "redis") -> Workload:
    return server_workload(
        name, "redis", "redis",
        command=("sh", "-c", REDIS_SERVER),
        environment=(("REDIS_PASSWORD_FILE", REDIS_PASSWORD),),
        memory="128M", grace=None,
        field_comments=(("command", "The shell hands redis-server its password on standard "
                                    "input, read from the secret file (never an argument or a "
                                    "variable); the image entrypoint still drops root."),),
    )


def from_secret_files(variables: tuple[str, ...], entrypoint: tuple[str, ...]) -> tuple[str, ...]:
    """An entrypoint that sets each `VAR` from the file `VAR_FILE` names, then execs `entrypoint`.

    For images with no `*_FILE` contract of their own: Keycloak (KC_BOOTSTRAP_ADMIN_PASSWORD;
    keycloak/keycloak#10816 is still open) and RabbitMQ 3.9+ (the image dropped
    RABBITMQ_DEFAULT_PASS_FILE; RabbitMQ itself still reads RABBITMQ_DEFAULT_PASS). The value
    then lives in the server process's environment only, never in the container's
    configuration (`docker inspect`). bash: the Keycloak image has no other shell.
    """
    reads = "; ".join(f'export {v}="$$(cat "$${v}_FILE")"; unset {v}_FILE' for v in variables)
    return ("bash", "-c", f'{reads}; exec "$$@"', "bash", *entrypoint)


def job_workload(name: str, node: str, kind: str, *, entrypoint: tuple[str, ...],
                 environment: tuple[tuple[str, EnvValue], ...], mounts: tuple[Mount, ...],
                 depends_on: tuple[Dependency, ...], comment: tuple[str, ...]) -> Workload:
    """A one-shot container whose exit code is its health."""
    return Workload(name=name, node=node, kind=kind, image=CATALOG[kind].image,
                    entrypoint=entrypoint, environment=environment, mounts=mounts,
                    healthcheck_disabled=True, depends_on=depends_on,
                    security=hardened(kind),
                    networks=(BACKEND,), restart="no", job=True, comment=comment)


def completed(service: str) -> Dependency:
    return Dependency(service, COMPLETED)
