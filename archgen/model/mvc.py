"""The mvc architecture: one app behind a reverse proxy, its database and Redis."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen import __version__
from archgen.catalog import CATALOG, app_password, app_url, server_environment
from archgen.model._grpc import grpc_backends, grpc_graph, grpc_published
from archgen.model.common import (
    APP_PORT,
    BACKEND,
    FRONTEND,
    app_context,
    app_settings,
    app_workload,
    catalog_ports,
    data_context,
    edge_block,
    edge_ports,
    edge_workload,
    init_mounts,
    merged,
    redis_workload,
    server_workload,
)
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.workload import Workload, healthy
from archgen.variables import EnvValue

PARTS = (("compose", "."), ("edge", "."), ("data", "."), ("delivery", "."), ("app", "app"))


def app_environment(name: str, database: dict[str, Any], cache: dict[str, Any],
                    edge: dict[str, Any], redis_db: int = 0) -> tuple[tuple[str, EnvValue], ...]:
    """What the single-server app (mvc) reads: where its database and Redis are."""
    return (
        ("APP_NAME", name),
        ("APP_DB_ENGINE", database["engine"]),
        ("APP_DATABASE_URL", app_url(database["engine"], [f"{database['service']}:{database['port']}"],
                                     database["name"], database["user"])),
        ("APP_DATABASE_PASSWORD_FILE", app_password(database["engine"])),
        ("APP_REDIS_URL", app_url("redis", [f"{cache['service']}:{cache['port']}"], str(redis_db),
                                  "")),
        ("APP_REDIS_PASSWORD_FILE", app_password("redis")),
        *app_settings(cache, edge),
    )


def resolve_mvc(spec: dict[str, Any]) -> Architecture:
    name = spec["name"]
    proxy = merged(spec, "proxy")
    app = app_context(spec)
    database, cache = data_context(spec)
    edge = edge_block("proxy", proxy, [{"name": "app", "host": "app", "port": APP_PORT, "weight": 1}])
    if backends := grpc_backends([app], proxy["kind"]):
        edge["grpc"] = backends
    engine = database["engine"]
    data = (database["service"], cache["service"])
    test = app_workload(name, "app-test", app, app_environment(name, database, cache, edge, redis_db=1),
                        healthy(*data), test=True)
    workloads: tuple[Workload, ...] = (
        edge_workload(edge, ("app",)),
        grpc_published(app_workload(name, "app", app, app_environment(name, database, cache, edge),
                                    healthy(*data)), app, proxy["kind"]),
        replace(test,
                comment=("The app's own test suite, run against this stack's database and Redis "
                         "(a one-shot job in profile `test`): `make test`, or",
                         "`archgen up --profile test && archgen logs -f app-test`."),
                field_comments=(("environment.APP_REDIS_URL", "Its own Redis database, so test "
                                 "keys never mix with the running app's cache."),)),
        server_workload(database["service"], "db", engine,
                        environment=server_environment(engine, database["name"], database["user"]),
                        mounts=init_mounts(engine),
                        memory="1G" if engine == "mongodb" else "512M"),
        redis_workload(cache["service"]),
    )
    entry = CATALOG[proxy["kind"]]
    grpc_ports, grpc_edges = grpc_graph("proxy", proxy["kind"], {"app": app.get("grpc")},
                                        published=True)
    nodes = (
        Node("proxy", proxy["kind"], "proxy", "edge", f"{proxy['kind']} reverse proxy",
             entry.image, edge_ports(proxy, entry)),
        Node("app", "python", "app", "application", "app (FastAPI)", app["image"],
             (Port("http", APP_PORT), *grpc_ports.get("app", ()))),
        Node("db", engine, "database", "data", engine, CATALOG[engine].image,
             catalog_ports(engine)),
        Node("redis", "redis", "cache", "data", "redis", CATALOG["redis"].image,
             catalog_ports("redis")),
    )
    edges = (
        Edge("proxy", "app", "HTTP", APP_PORT),
        *grpc_edges,
        Edge("app", "db", CATALOG[engine].protocol, database["port"]),
        Edge("app", "redis", "RESP", cache["port"]),
    )
    context = {"name": name, "architecture": "mvc", "archgen_version": __version__,
               "description": spec.get("description"),
               "edge": edge, "proxy": edge, "app": app, "database": database, "cache": cache,
               "delivery": {"integration_test": "app-test", "spread": False}}
    return Architecture(name, "mvc", nodes, edges, context, workloads, (FRONTEND, BACKEND), PARTS)
