"""The scaled architecture: a load balancer over N app replicas, a replicated database, Redis failover."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen import __version__
from archgen.catalog import CATALOG, app_password, app_url, server_environment
from archgen.model._grpc import grpc_backends, grpc_graph
from archgen.model.common import (
    APP_PORT,
    BACKEND,
    FRONTEND,
    app_context,
    app_settings,
    app_workload,
    catalog_ports,
    completed,
    data_context,
    edge_block,
    edge_ports,
    edge_workload,
    init_mounts,
    job_workload,
    merged,
    redis_workload,
    server_workload,
)
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.workload import Dependency, Mount, Workload, healthy
from archgen.variables import (
    MONGO_REPLICA_SET_KEY,
    MONGO_ROOT_PASSWORD,
    POSTGRES_REPLICATION_PASSWORD,
    REDIS_PASSWORD,
    EnvValue,
)

PARTS = (("compose", "."), ("edge", "."), ("data", "."), ("delivery", "."), ("app", "app"))
SENTINEL_PORT = 26379
_PG_COMMAND = ("postgres", "-c", "wal_level=replica", "-c", "max_wal_senders=10", "-c",
               "wal_keep_size=256MB", "-c", "hot_standby=on")


def _scaled_context(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    app_block = merged(spec, "app")
    replicas = int(app_block["replicas"])
    app = app_context(spec)
    app["replicas"] = replicas
    app["weights"] = list(app_block.get("weights") or [1] * replicas)
    # One workload per replica (`app-1` …), so every load balancer can name, weigh and
    # health-check each one, and `archgen status` lists each.
    app["instances"] = [f"app-{n}" for n in range(1, replicas + 1)]
    database, cache = data_context(spec)
    members = int(merged(spec, "database")["replicas"])
    database["replicas"] = members
    database["members"] = [f"db-{n}" for n in range(1, members + 1)]
    database["primary"] = database["members"][0]
    database["standbys"] = database["members"][1:]
    database["service"] = database["primary"]
    if database["engine"] == "mongodb":
        database["replica_set"] = "rs0"
        database["init_service"] = "db-init"
        # The first member is preferred as primary; any member can be elected.
        database["priorities"] = [2] + [1] * (members - 1)
    else:
        database["replication_user"] = "replicator"
    if cache["sentinel"]:
        cache["nodes"] = ["redis-1", "redis-2"]
        cache["service"] = cache["nodes"][0]
        cache["sentinels"] = [f"sentinel-{n}" for n in range(1, 4)]
        cache["sentinel_port"] = SENTINEL_PORT
        cache["master_name"] = "mymaster"
        cache["quorum"] = 2  # of three sentinels: one may be lost
        cache["down_after_ms"] = 3000
        cache["failover_timeout_ms"] = 10000
    return app, database, cache


def _app_environment(name: str, database: dict[str, Any], cache: dict[str, Any],
                     edge: dict[str, Any]) -> tuple[tuple[str, EnvValue], ...]:
    engine, port = database["engine"], database["port"]
    pairs: list[tuple[str, EnvValue]] = [("APP_NAME", name), ("APP_DB_ENGINE", engine)]
    if engine == "postgres":
        pairs.append(("APP_DATABASE_URL", app_url(engine, [f"{database['primary']}:{port}"],
                                                  database["name"], database["user"])))
        if database["standbys"]:
            hosts = [f"{s}:{port}" for s in [*database["standbys"], database["primary"]]]
            pairs.append(("APP_DATABASE_READ_URL", app_url(
                engine, hosts, database["name"], database["user"],
                "target_session_attrs=prefer-standby&load_balance_hosts=random")))
    else:
        pairs.append(("APP_DATABASE_URL", app_url(
            engine, [f"{m}:{port}" for m in database["members"]], database["name"],
            database["user"], f"replicaSet={database['replica_set']}&retryWrites=true&w=majority")))
    pairs.append(("APP_DATABASE_PASSWORD_FILE", app_password(engine)))
    if cache["sentinel"]:
        pairs += [("APP_REDIS_SENTINELS", ",".join(f"{s}:{SENTINEL_PORT}" for s in cache["sentinels"])),
                  ("APP_REDIS_MASTER", cache["master_name"])]
    else:
        pairs.append(("APP_REDIS_URL", app_url("redis", [f"{cache['service']}:{cache['port']}"],
                                               "0", "")))
    pairs.append(("APP_REDIS_PASSWORD_FILE", REDIS_PASSWORD))
    return (*pairs, *app_settings(cache, edge))


_APP_COMMENTS = {
    "postgres": ("environment.APP_DATABASE_URL", "Writes (and reads by id, so a client reads its "
                 "own writes) go to the primary; lists go to a standby that has replayed the "
                 "primary's WAL up to the request."),
    "mongodb": ("environment.APP_DATABASE_URL", "The replica-set connection string: the driver "
                "finds the primary, follows elections and retries a write once if the primary "
                "changes under it."),
    "sentinel": ("environment.APP_REDIS_SENTINELS", "The app asks the sentinels which Redis node "
                 "is the primary, and asks again after a failover."),
}


def _postgres(database: dict[str, Any]) -> list[Workload]:
    engine, primary = "postgres", database["primary"]
    workloads = [server_workload(
        primary, "db", engine, command=_PG_COMMAND,
        environment=(*server_environment(engine, database["name"], database["user"]),
                     ("POSTGRES_REPLICATION_PASSWORD_FILE", POSTGRES_REPLICATION_PASSWORD)),
        mounts=(Mount("./db/primary-init.sh", "/docker-entrypoint-initdb.d/10-replication.sh",
                      read_only=True, comment="Run once, on the first start: the replication "
                      "role and its pg_hba.conf line."), *init_mounts(engine)),
        comment=(f"PostgreSQL streaming replication: {primary} is the primary"
                 + (f"; {', '.join(database['standbys'])} clone it with pg_basebackup on first "
                    "start and follow it as hot standbys" if database["standbys"] else "")
                 + ". Promoting a standby when the primary fails is NOT automatic here: that "
                 "needs a manager such as Patroni.",),
    )]
    for standby in database["standbys"]:
        workloads.append(server_workload(
            standby, "db", engine, user="postgres", entrypoint=("bash", "/etc/archgen/db/standby.sh"),
            command=_PG_COMMAND,
            environment=(("POSTGRES_USER", database["user"]), ("POSTGRES_DB", database["name"]),
                         ("PRIMARY_HOST", primary),
                         ("REPLICATION_USER", database["replication_user"]),
                         ("POSTGRES_REPLICATION_PASSWORD_FILE", POSTGRES_REPLICATION_PASSWORD)),
            mounts=(Mount("./db/standby.sh", "/etc/archgen/db/standby.sh", read_only=True),),
            depends_on=healthy(primary),
            field_comments=(("entrypoint", "The wrapper clones the primary into an empty data "
                             "directory, then hands over to the image's own entrypoint; the "
                             "clone's standby.signal makes this server a hot standby."),),
        ))
    return workloads


def _mongodb(database: dict[str, Any]) -> list[Workload]:
    engine, members = "mongodb", database["members"]
    workloads = []
    for index, member in enumerate(members):
        environment: tuple[tuple[str, EnvValue], ...] = (
            ("MONGO_REPLICA_SET_KEY_FILE", MONGO_REPLICA_SET_KEY),)
        if index == 0:  # only the first member creates the root user: the others start empty
            environment += server_environment(engine, database["name"], database["user"])
        workloads.append(server_workload(
            member, "db", engine, entrypoint=("bash", "/etc/archgen/db/member.sh"),
            command=("mongod", "--replSet", database["replica_set"], "--bind_ip_all"),
            environment=environment,
            mounts=(Mount("./db/member.sh", "/etc/archgen/db/member.sh", read_only=True),
                    *(init_mounts(engine) if index == 0 else ())),
            memory="1G",
            comment=(f"A MongoDB replica set of {len(members)}: members authenticate to each "
                     "other with a shared key (keyfile), elect a primary by majority and elect a "
                     "new one when it fails.",) if index == 0 else (),
            field_comments=(("entrypoint", "The wrapper writes the keyfile mongod insists on "
                             "(mode 400, owned by mongodb) from the replica-set key's secret "
                             "file, then hands "
                             "over to the image's own entrypoint."),),
        ))
    url = (f'mongodb://root:$$(cat "$$MONGO_ROOT_PASSWORD_FILE")@{database["primary"]}:'
           f"{database['port']}/admin?directConnection=true")
    workloads.append(job_workload(
        database["init_service"], "db-init", engine,
        entrypoint=("bash", "-c", f'exec mongosh --quiet "{url}" /etc/archgen/db/rs-init.js'),
        environment=(("MONGO_ROOT_PASSWORD_FILE", MONGO_ROOT_PASSWORD),),
        mounts=(Mount("./db/rs-init.js", "/etc/archgen/db/rs-init.js", read_only=True),),
        depends_on=healthy(*members),
        comment=("One-shot: initiates the replica set (once; a no-op when it exists) and waits "
                 "until a primary is elected. The replicas start only after it exited 0.",),
    ))
    return workloads


def _redis(cache: dict[str, Any]) -> list[Workload]:
    if not cache["sentinel"]:
        return [redis_workload(cache["service"])]
    nodes, sentinels = cache["nodes"], cache["sentinels"]
    workloads = []
    for index, node in enumerate(nodes):
        workloads.append(server_workload(
            node, "redis", "redis",
            command=("sh", "/etc/archgen/redis/redis-node.sh", node, *(nodes[:1] if index else ())),
            environment=(("REDIS_PASSWORD_FILE", REDIS_PASSWORD),),
            mounts=(Mount("./redis/redis-node.sh", "/etc/archgen/redis/redis-node.sh",
                          read_only=True),),
            memory="128M", grace=None,
            comment=(f"Redis with automatic failover: {nodes[0]} starts as the primary, {nodes[1]} "
                     f"as its replica; three sentinels watch them and promote the replica "
                     f"({cache['quorum']} of 3 agreeing) when the primary fails.",)
            if index == 0 else (),
        ))
    base = CATALOG["redis"].healthcheck
    assert base is not None
    # Healthy once this sentinel sees a quorum able to authorise a failover.
    quorum_check = replace(base, test=(
        "CMD-SHELL", 'REDISCLI_AUTH="$$(cat "$${REDIS_PASSWORD_FILE}")" redis-cli -h 127.0.0.1 '
        f"-p {SENTINEL_PORT} sentinel ckquorum {cache['master_name']} | grep -q '^OK'"))
    for sentinel in sentinels:
        workloads.append(server_workload(
            sentinel, "sentinel", "redis",
            command=("sh", "/etc/archgen/redis/sentinel.sh", sentinel, nodes[0]),
            environment=(("REDIS_PASSWORD_FILE", REDIS_PASSWORD),
                         ("SENTINEL_MASTER", cache["master_name"]),
                         ("SENTINEL_QUORUM", str(cache["quorum"])),
                         ("SENTINEL_DOWN_AFTER_MS", str(cache["down_after_ms"])),
                         ("SENTINEL_FAILOVER_TIMEOUT_MS", str(cache["failover_timeout_ms"]))),
            mounts=(Mount("./redis/sentinel.sh", "/etc/archgen/redis/sentinel.sh", read_only=True),),
            depends_on=healthy(*nodes), check=quorum_check, memory="64M", grace=None,
            field_comments=(("volumes", "Sentinel rewrites its config as it learns: it lives in "
                             "its volume, so a restarted sentinel remembers the current primary."),),
        ))
    return workloads


def resolve_scaled(spec: dict[str, Any]) -> Architecture:
    name = spec["name"]
    balancer = merged(spec, "load_balancer")
    app, database, cache = _scaled_context(spec)
    upstreams = [{"name": n, "host": n, "port": APP_PORT, "weight": w}
                 for n, w in zip(app["instances"], app["weights"], strict=True)]
    edge = edge_block("load_balancer", balancer, upstreams)
    edge["balanced"] = True
    if backends := grpc_backends([{**app, "service": u["host"]} for u in upstreams], balancer["kind"]):
        edge["grpc"] = backends
    # A replica that does not accept a connection in time is skipped for the next. nginx has
    # no active checks and tries a stopped replica again every `fail_timeout_s`: 250 ms keeps
    # each such try below what a user notices (the kernel accepts connections even while the
    # app is busy, so only a replica that is gone misses it). haproxy and envoy probe every
    # replica and stop sending to one within two probes; a second is plenty for them.
    edge["timeouts"]["connect_ms"] = 250 if balancer["kind"] == "nginx" else 1000
    # How the load balancer watches its replicas: an active probe of each replica's
    # liveness path every `interval_ms`; `fall` failures in a row take it out, `rise`
    # successes bring it back. Where only passive checks exist (nginx), a replica that
    # failed `max_fails` times is skipped for `fail_timeout_s`. Idempotent requests
    # that fail on one replica are retried on up to `retries` others.
    edge["health"] = {"path": "/healthz", "interval_ms": 1000, "timeout_ms": 1000, "fall": 2,
                      "rise": 2, "max_fails": 1, "fail_timeout_s": 5, "retries": 2}
    engine = database["engine"]
    data_ready: tuple[Dependency, ...] = (
        (completed(database["init_service"]),) if engine == "mongodb"
        else healthy(*database["members"]))
    data_ready += healthy(*(cache["nodes"] + cache["sentinels"] if cache["sentinel"]
                            else [cache["service"]]))
    environment = _app_environment(name, database, cache, edge)
    comments = (_APP_COMMENTS[engine], _APP_COMMENTS["sentinel"])
    replicas = [
        replace(app_workload(name, instance, app, (*environment, ("APP_INSTANCE_ID", instance)),
                             data_ready), field_comments=comments)
        for instance in app["instances"]
    ]
    workloads: list[Workload] = [edge_workload(edge, tuple(app["instances"])), *replicas]
    workloads += _postgres(database) if engine == "postgres" else _mongodb(database)
    workloads += _redis(cache)

    entry = CATALOG[balancer["kind"]]
    members = database["replicas"]
    db_label = (f"{engine} replica set ×{members}" if engine == "mongodb"
                else f"{engine} primary + {members - 1} replica(s)" if members > 1 else engine)
    db_entry = CATALOG[engine]
    db_ports = catalog_ports(engine)
    redis_ports = catalog_ports("redis")
    grpc_ports, grpc_edges = grpc_graph("lb", balancer["kind"], {"app": app.get("grpc")})
    nodes: list[Node] = [
        Node("lb", balancer["kind"], "load_balancer", "edge",
             f"{balancer['kind']} load balancer ({balancer['algorithm']})", entry.image,
             edge_ports(balancer, entry)),
        Node("app", "python", "app", "application", f"app ×{app['replicas']}", app["image"],
             (Port("http", APP_PORT), *grpc_ports.get("app", ())), replicas=app["replicas"]),
        Node("db", engine, "database", "data", db_label, db_entry.image, db_ports,
             replicas=members, group="replica set" if engine == "mongodb"
             else "replication" if members > 1 else None),
    ]
    edges = [
        Edge("lb", "app", "HTTP", APP_PORT),
        *grpc_edges,
        Edge("app", "db", db_entry.protocol, database["port"]),
        Edge("app", "redis", "RESP", cache["port"]),
    ]
    if engine == "mongodb":
        nodes.append(Node("db-init", "mongodb", "job", "platform", "replica-set init",
                          db_entry.image, db_ports))
        edges.append(Edge("db-init", "db", "MongoDB", database["port"]))
    if cache["sentinel"]:
        nodes.append(Node("redis", "redis", "cache", "data", "redis primary + replica",
                          CATALOG["redis"].image, redis_ports, replicas=2, group="sentinel"))
        nodes.append(Node("sentinel", "redis", "sentinel", "platform", "redis sentinel ×3",
                          CATALOG["redis"].image, (Port("sentinel", SENTINEL_PORT),), replicas=3,
                          group="sentinel"))
        edges.append(Edge("sentinel", "redis", "RESP", cache["port"]))
        edges.append(Edge("app", "sentinel", "RESP", SENTINEL_PORT))
    else:
        nodes.append(Node("redis", "redis", "cache", "data", "redis", CATALOG["redis"].image,
                          redis_ports))
    context = {"name": name, "architecture": "scaled", "archgen_version": __version__,
               "description": spec.get("description"),
               "edge": edge, "load_balancer": edge, "app": app, "database": database,
               "cache": cache, "delivery": {"integration_test": None, "spread": True}}
    return Architecture(name, "scaled", tuple(nodes), tuple(edges), context, tuple(workloads),
                        (FRONTEND, BACKEND), PARTS)
