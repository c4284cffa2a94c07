"""The microservices' workloads: each service, the database it owns, the bus, the orchestrator."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace
from typing import Any

from archgen.catalog import CATALOG, app_password, app_url, server_command, server_environment
from archgen.model._grpc import grpc_context
from archgen.model.common import (
    APP_PORT,
    BACKEND,
    DEFAULTS,
    FRONTEND,
    app_workload,
    entity,
    from_secret_files,
    hardened,
    healthcheck,
    init_mounts,
    redis_workload,
    server_workload,
    snake,
)
from archgen.model.uis import UI_BIND
from archgen.model.workload import Mount, PublishedPort, Workload, healthy
from archgen.variables import APP_LOG_LEVEL, EnvValue, Secret, Text, Var, secret, text

ORCHESTRATOR = "sagas"
DEFAULT_FIELDS = DEFAULTS["app"]["entities"][0]["fields"]
_RESERVED_ENTITIES = {"health", "healthz", "readyz", "whoami", "docs", "openapi", "api"}
FAULT_INJECTION = Var("APP_FAULT_INJECTION", default="false",
                      comment="true lets a saga's start body carry fail_at (tests and demos only).")
BUS_RETRIES = Var("APP_BUS_RETRIES", default="3",
                  comment="Attempts at a consumed message before it goes to the dead-letter queue.")
BUS_BACKOFF = Var("APP_BUS_RETRY_BACKOFF_MS", default="200",
                  comment="First wait between those attempts (doubled each time).")
RABBITMQ_USER = Var("RABBITMQ_USER", default="app",
                    comment="The bus's only user (RabbitMQ), not guest.")
RABBITMQ_PASSWORD = secret("RABBITMQ_PASSWORD", "The bus's user's password (RabbitMQ).")
# Engines whose app user has a password (Elasticsearch and Solr have no users here).
_PASSWORDED = ("postgres", "mysql", "mongodb", "redis", "neo4j")


def singular(name: str) -> str:
    """`orders` → `order`, `stories` → `story`: the default entity of a service."""
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith(("ses", "xes")) and len(name) > 3:
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss") and len(name) > 1:
        return name[:-1]
    return name


def _default_entities(name: str) -> list[dict[str, Any]]:
    chosen = singular(name)
    if chosen in _RESERVED_ENTITIES:
        chosen = "item"
    return [{"name": chosen, "fields": DEFAULT_FIELDS}]


def _steps(owner: str, sagas: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The saga steps `owner` performs, once per action."""
    steps: dict[str, dict[str, Any]] = {}
    for saga in sagas:
        for step in saga["steps"]:
            if step["service"] == owner and step["action"] not in steps:
                steps[step["action"]] = {"saga": saga["name"], "action": step["action"],
                                         "compensate": step["compensate"]}
    return list(steps.values())


def service_context(owner: str, service: dict[str, Any] | None, sagas: list[dict[str, Any]],
                    spec: dict[str, Any]) -> dict[str, Any]:
    """`arch.app` of one service (or of the orchestrator when `service` is None)."""
    python = CATALOG["python"]
    raw_entities = (service or {}).get("entities") or ([] if service is None
                                                        else _default_entities(owner))
    return {
        "service": owner,
        "name": owner,
        "dir": f"services/{owner}",
        "role": "orchestrator" if service is None else "service",
        "image": python.image,
        "python_version": python.tag.split("-")[0].rsplit(".", 1)[0],
        "port": APP_PORT,
        "user": python.user,
        "api": list((service or {}).get("api") or ["rest"]),
        "grpc": grpc_context(spec["name"], list((service or {}).get("api") or ["rest"]), owner),
        "entities": [entity(e) for e in raw_entities],
        "healthcheck": healthcheck("python"),
        "publishes": list((service or {}).get("publishes") or []),
        "consumes": list((service or {}).get("consumes") or []),
        "depends_on": list((service or {}).get("depends_on") or []),
        "steps": [] if service is None else _steps(owner, sagas),
        "sagas": sagas if service is None else [],
        "project": spec["name"],
    }


def database_context(owner: str, engine: str) -> dict[str, Any]:
    """`arch.database` of one service: the store only it reaches, on its own network."""
    name = snake(owner)
    if engine == "none":
        return {"engine": "none", "service": None, "image": None, "port": None, "name": name,
                "user": None, "data_path": None, "healthcheck": None, "network": None}
    entry = CATALOG[engine]
    return {"engine": engine, "service": f"{owner}-db", "image": entry.image,
            "port": entry.main_port, "name": name, "user": "app", "data_path": entry.data_path,
            "healthcheck": healthcheck(engine), "network": f"{owner}-data"}


# -- secrets: one set per database, so no service holds another's credentials -----------------

def _prefix(owner: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", owner.upper()) + "_"


def scoped_secret(value: Secret, owner: str) -> Secret:
    """`value` as `owner`'s own secret: `<owner>_<name>` (orders_postgres_app_password)."""
    prefix = _prefix(owner)
    comment = (f"{owner}: {value.comment}" if value.comment else
               f"{owner}'s database: {value.variable.lower().replace('_', ' ')}.")
    return Secret(prefix.lower() + value.name, prefix + value.variable, comment)


def _scoped_value(value: EnvValue, prefix: str, owner: str) -> EnvValue:
    if isinstance(value, Secret):
        return scoped_secret(value, owner)

    def scope(var: Var) -> Var:
        if not var.secret:
            return var
        comment = (f"{owner}: {var.comment}" if var.comment else
                   f"{owner}'s database: {var.name.lower().replace('_', ' ')}.")
        return Var(prefix + var.name, None, comment)

    if isinstance(value, Var):
        return scope(value)
    if isinstance(value, Text):
        return Text(tuple(scope(p) if isinstance(p, Var) else p for p in value.parts))
    return value


def scoped(environment: tuple[tuple[str, EnvValue], ...], owner: str
           ) -> tuple[tuple[str, EnvValue], ...]:
    """The same secrets under `<owner>_…` names, so no service mounts another's passwords.

    The files are `secrets/<owner>_…`; the container's variables keep their names.
    """
    prefix = _prefix(owner)
    return tuple((key, _scoped_value(value, prefix, owner)) for key, value in environment)


def _database_url(database: dict[str, Any]) -> str | None:
    engine = database["engine"]
    if engine == "none":
        return None
    # Redis: database number 0 of the service's own server.
    name = "0" if engine == "redis" else database["name"]
    return app_url(engine, [f"{database['service']}:{database['port']}"], name, database["user"])


def _database_workload(owner: str, database: dict[str, Any]) -> Workload:
    engine = database["engine"]
    service = database["service"]
    folder = f"./services/{owner}/"
    if engine == "redis":
        workload = replace(redis_workload(service), node=service)
    else:
        mounts = tuple(replace(m, source=m.source.replace("./", folder, 1))
                       for m in init_mounts(engine))
        unsecured = engine in ("elasticsearch", "solr")
        workload = server_workload(
            service, service, engine,
            environment=server_environment(engine, database["name"], database["user"]),
            command=server_command(engine, database["name"]), mounts=mounts,
            memory="512M" if engine in ("postgres", "mysql") else "1G",
            comment=((f"No users ({engine} here has no security plugin set up): its own "
                      f"network, joined by {owner} alone, is what keeps other services out.",)
                     if unsecured else ()))
    if engine == "neo4j":
        # The image has no *_FILE for NEO4J_AUTH: set it from the secret file, then run the
        # image's entrypoint; the value is never in the container's configuration.
        workload = replace(workload, entrypoint=(
            "bash", "-c", 'export NEO4J_AUTH="neo4j/$$(cat "$${NEO4J_PASSWORD_FILE}")"; '
            'unset NEO4J_PASSWORD_FILE; exec "$$@"', "bash", "/startup/docker-entrypoint.sh",
            "neo4j"))
    return replace(workload, environment=scoped(workload.environment, owner),
                   secret_files=tuple(scoped_secret(s, owner) for s in workload.secret_files),
                   networks=(database["network"],))


def _app_environment(app: dict[str, Any], database: dict[str, Any],
                     bus: dict[str, Any] | None, edge: dict[str, Any]
                     ) -> tuple[tuple[str, EnvValue], ...]:
    url = _database_url(database)
    bus_env: tuple[tuple[str, EnvValue], ...] = ()
    if bus is not None:
        rabbitmq = bus["kind"] == "rabbitmq"
        # No password in the URL: the app reads it from APP_BUS_PASSWORD_FILE (settings.py).
        bus_url: EnvValue = (text("amqp://", RABBITMQ_USER, f"@{bus['service']}:{bus['port']}/%2F")
                             if rabbitmq else f"{bus['service']}:{bus['port']}")
        bus_env = (("APP_BUS_KIND", bus["kind"]), ("APP_BUS_URL", bus_url),
                   *((("APP_BUS_PASSWORD_FILE", RABBITMQ_PASSWORD),) if rabbitmq else ()),
                   ("APP_BUS_RETRIES", BUS_RETRIES), ("APP_BUS_RETRY_BACKOFF_MS", BUS_BACKOFF))
    return (
        ("APP_NAME", app["name"]),
        ("APP_SERVICE_NAME", app["name"]),
        ("APP_ROLE", app["role"]),
        ("APP_DB_ENGINE", database["engine"]),
        *((("APP_DATABASE_URL", url),) if url is not None else ()),
        # The database's password is this service's own secret (`secrets/<owner>_…`).
        *((("APP_DATABASE_PASSWORD_FILE",
            scoped_secret(app_password(database["engine"]), app["name"])),)
          if database["engine"] in _PASSWORDED else ()),
        *bus_env,
        ("APP_FAULT_INJECTION", FAULT_INJECTION),
        # Forwarding headers are believed from the gateway only, found by its service name.
        ("APP_TRUSTED_PROXIES", str(edge["service"])),
        ("APP_BODY_LIMIT_BYTES", str(edge["body_limit_mb"] * 1048576)),
        ("APP_LOG_LEVEL", APP_LOG_LEVEL),
    )


def service_workloads(project: str, app: dict[str, Any], database: dict[str, Any],
                      bus: dict[str, Any] | None, edge: dict[str, Any],
                      depends_on: list[str]) -> list[Workload]:
    """One service: its container, its test stage (profile `test`) and the database it owns."""
    owner = app["name"]
    environment = _app_environment(app, database, bus, edge)
    data = [database["service"]] if database["service"] else []
    needs = healthy(*data, *(["bus"] if bus else []), *depends_on)
    own_network = (database["network"],) if database["network"] else ()
    service = replace(
        app_workload(project, owner, app, environment, needs),
        networks=(FRONTEND, BACKEND, *own_network),
        comment=((f"The saga orchestrator: keeps every saga's state in {database['service']} "
                  "and drives the steps over the bus.",) if app["role"] == "orchestrator" else
                 (f"Service {owner}: reached through the gateway at /api/{owner}/ (prefix "
                  "stripped); the only one on the network of its database.",)),
    )
    test = replace(
        app_workload(project, f"{owner}-test", app, environment, healthy(*data, *(["bus"] if bus
                                                                                 else []))),
        networks=(BACKEND, *own_network),
        comment=(f"{owner}'s own test suite, run against its database (a one-shot job in "
                 f"profile `test`): `make test`.",),
    )
    test = replace(test, image=f"{project}-{owner}-test:latest", healthcheck=None, init=False,
                   profiles=("test",), restart="no", stop_grace_period=None, job=True,
                   build=replace(test.build, target="test") if test.build else None)
    workloads = [service, test]
    if database["service"]:
        workloads.append(_database_workload(owner, database))
    return workloads


def kafka_cluster_id(project: str) -> str:
    """A stable KRaft cluster id (16 bytes, base64url) for `kafka-storage format`'s first run."""
    digest = bytearray(hashlib.sha256(f"archgen-kafka:{project}".encode()).digest()[:16])
    digest[0] %= 0xD0  # a letter first: an id starting with `-` reads as an option
    return base64.urlsafe_b64encode(bytes(digest)).decode().rstrip("=")


def bus_workload(project: str, bus: dict[str, Any]) -> Workload:
    """Kafka (one KRaft node) or RabbitMQ on the backend network, with its data in a volume."""
    kind = bus["kind"]
    entry = CATALOG[kind]
    assert entry.data_path is not None
    environment: tuple[tuple[str, EnvValue], ...]
    entrypoint: tuple[str, ...] | None = None
    if kind == "kafka":
        environment = (
            ("KAFKA_NODE_ID", "1"), ("KAFKA_PROCESS_ROLES", "broker,controller"),
            ("CLUSTER_ID", kafka_cluster_id(project)),
            ("KAFKA_LISTENERS", "PLAINTEXT://:9092,CONTROLLER://:9093"),
            ("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://{bus['service']}:9092"),
            ("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"),
            ("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093"),
            ("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER"),
            ("KAFKA_LOG_DIRS", entry.data_path),
            ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1"),
            ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1"),
            ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1"),
            ("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0"),
            ("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "true"),
            ("KAFKA_HEAP_OPTS", "-Xmx384m -Xms384m"),
        )
        comment = ("The bus: one Kafka node (broker and KRaft controller). Plaintext and without "
                   "users: only the services and the orchestrator join its network.",)
    else:
        # RabbitMQ 3.9+ dropped RABBITMQ_DEFAULT_PASS_FILE: the entrypoint sets the variable
        # from the secret file for the server process only (common.from_secret_files).
        entrypoint = from_secret_files(("RABBITMQ_DEFAULT_PASS",),
                                       ("docker-entrypoint.sh", "rabbitmq-server"))
        environment = (("RABBITMQ_DEFAULT_USER", RABBITMQ_USER),
                       ("RABBITMQ_DEFAULT_PASS_FILE", RABBITMQ_PASSWORD),
                       # The node name (and so its data folder) must not follow the container's
                       # host name, which changes when the container is recreated.
                       ("RABBITMQ_NODENAME", "rabbit@localhost"))
        comment = ("The bus: RabbitMQ with one user (RABBITMQ_USER in .env) and a random "
                   "password from secrets/rabbitmq_password "
                   "(no guest); only the services and the orchestrator join its network.",)
    return Workload(
        name=bus["service"], node="bus", kind=kind, image=entry.image,
        entrypoint=entrypoint, environment=environment,
        mounts=(Mount(f"{bus['service']}-data", entry.data_path),),
        ports=((PublishedPort("management", entry.ports["management"], bus["ui_port"], UI_BIND),)
               if "ui_port" in bus else ()),
        healthcheck=entry.healthcheck, memory="1G",
        security=hardened(kind),
        networks=(BACKEND,), stop_grace_period="30s", stateful=True, comment=comment,
    )
