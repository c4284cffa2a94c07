"""The stand-in images from scripts/standin-images honour the official images' contracts.

Each buildable kind is run the way a compose file runs it (its env contract, a config
that answers /healthz, ports published on 127.0.0.1) and must pass the catalog's own
healthcheck within the time compose would allow; the binaries the catalog lists must
be there and the ones the official image lacks must not.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from archgen.catalog import CATALOG, Component
from tests.helpers import unavailable

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "standin-images"
RECIPES = REPO / "scripts" / "standins"
PREFIX = "agstd-"
# The script caches downloads and Go/Maven/npm artifacts under the user's home; tests run
# with an isolated HOME (tests/conftest.py), so the script gets the real one back.
SCRIPT_ENV = {**os.environ}

# Tools the official images do not have (shared/IMAGES.md); a healthcheck relying on
# one must fail against the stand-in too.
ABSENT: dict[str, tuple[str, ...]] = {
    "nginx": ("bash", "python3"),
    "httpd": ("bash", "curl"),
    "haproxy": ("bash", "curl"),
    "envoy": ("curl", "wget", "nc"),
    "python": ("curl", "wget", "nc"),
    "postgres": ("curl",),
    "redis": ("bash", "curl"),
    "prometheus": ("bash", "curl"),
    "mongodb": ("curl", "wget", "mongo"),
    "kafka": ("curl",),
    "jaeger": ("curl",),
    "keycloak": ("curl", "wget", "nc"),
}

_FILTERS = "type.googleapis.com/envoy.extensions.filters"
_HCM = "network.http_connection_manager.v3.HttpConnectionManager"
_ROUTE = {"match": {"path": "/healthz"}, "direct_response": {"status": 200, "body": {"inline_string": "ok"}}}
_HTTP_FILTER = {
    "name": "envoy.filters.network.http_connection_manager",
    "typed_config": {
        "@type": f"{_FILTERS}.{_HCM}",
        "stat_prefix": "http",
        "http_filters": [
            {
                "name": "envoy.filters.http.router",
                "typed_config": {"@type": f"{_FILTERS}.http.router.v3.Router"},
            }
        ],
        "route_config": {"virtual_hosts": [{"name": "all", "domains": ["*"], "routes": [_ROUTE]}]},
    },
}
ENVOY_CONFIG = {
    "admin": {"address": {"socket_address": {"address": "0.0.0.0", "port_value": 9901}}},
    "static_resources": {
        "listeners": [
            {
                "name": "http",
                "address": {"socket_address": {"address": "0.0.0.0", "port_value": 8080}},
                "filter_chains": [{"filters": [_HTTP_FILTER]}],
            }
        ]
    },
}

PROXY_CONFIGS = {
    "nginx": {
        "/etc/nginx/nginx.conf": """
events {}
http {
    server {
        listen 8080;
        location = /healthz { access_log off; return 200 "ok\\n"; }
    }
}
""",
    },
    "httpd": {
        "/usr/local/apache2/conf/httpd.conf": "ServerRoot /usr/local/apache2\nListen 8080\n"
        + "".join(
            f"LoadModule {name}_module modules/mod_{name}.so\n"
            for name in (
                "mpm_event",
                "ssl",
                "proxy",
                "proxy_http",
                "headers",
                "deflate",
                "rewrite",
                "unique_id",
                "socache_shmcb",
                "unixd",
                "authz_core",
                "log_config",
                "mime",
                "filter",
                "setenvif",
                "remoteip",
                "dir",
            )
        )
        + """User www-data
Group www-data
ServerName localhost
ErrorLog /proc/self/fd/2
CustomLog /proc/self/fd/1 "%h %r %>s"
TypesConfig conf/mime.types
DocumentRoot /usr/local/apache2/htdocs
<Directory /usr/local/apache2/htdocs>
    Require all granted
</Directory>
""",
        "/usr/local/apache2/htdocs/healthz": "ok\n",
    },
    "haproxy": {
        "/usr/local/etc/haproxy/haproxy.cfg": """
global
    log stdout format raw local0
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend http
    bind :8080
    monitor-uri /healthz
""",
    },
    # JSON is YAML: admin on 9901, /healthz answered on 8080.
    "envoy": {"/etc/envoy/envoy.yaml": json.dumps(ENVOY_CONFIG, indent=1)},
}

PG_INIT_SH = """#!/bin/sh
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \\
    -c "CREATE TABLE from_sh (note text); INSERT INTO from_sh VALUES ('ran')"
"""
MYSQL_INIT_SH = """#!/bin/sh
set -e
mysql -uroot -p"$MYSQL_ROOT_PASSWORD" "$MYSQL_DATABASE" \\
    -e "CREATE TABLE from_sh (note VARCHAR(10)); INSERT INTO from_sh VALUES ('ran')"
"""


MONGO_INIT_JS = """
db.items.insertOne({name: 'widget'});
// a least-privilege application user, as blueprints create one
db.createUser({user: 'app', pwd: 'app-s3cret', roles: [{role: 'readWrite', db: db.getName()}]});
"""
MONGO_INIT_SH = """#!/bin/bash
set -e
mongosh --quiet -u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" \\
    --authenticationDatabase admin "$MONGO_INITDB_DATABASE" --eval "db.from_sh.insertOne({note: 'ran'})"
"""
KEYCLOAK_REALM = {
    "realm": "shop",
    "enabled": True,
    "clients": [
        {
            "clientId": "shop-app",
            "enabled": True,
            "publicClient": True,
            "directAccessGrantsEnabled": True,
            "standardFlowEnabled": False,
        }
    ],
    "users": [
        {
            "username": "alice",
            "enabled": True,
            "email": "alice@example.test",
            "emailVerified": True,
            "firstName": "Alice",
            "lastName": "Liddell",
            "credentials": [{"type": "password", "value": "alice-s3cret", "temporary": False}],
        }
    ],
}


def kafka_env(node_id: int, voters: str, advertised_host: str, host_port: int) -> dict[str, str]:
    """A combined broker+controller: 9092 for in-container tools, 29092 advertised to the host."""
    return {
        "KAFKA_NODE_ID": str(node_id),
        "KAFKA_PROCESS_ROLES": "broker,controller",
        "CLUSTER_ID": "agstd-kafka-cluster-0",
        "KAFKA_LISTENERS": "PLAINTEXT://:9092,HOST://:29092,INTERNAL://:19092,CONTROLLER://:9093",
        "KAFKA_ADVERTISED_LISTENERS": (
            f"PLAINTEXT://localhost:9092,HOST://127.0.0.1:{host_port},INTERNAL://{advertised_host}:19092"
        ),
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": (
            "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,HOST:PLAINTEXT,INTERNAL:PLAINTEXT"
        ),
        "KAFKA_CONTROLLER_QUORUM_VOTERS": voters,
        "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
        "KAFKA_INTER_BROKER_LISTENER_NAME": "INTERNAL",
        "KAFKA_LOG_DIRS": "/var/lib/kafka/data",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
        "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
        "KAFKA_HEAP_OPTS": "-Xmx384m -Xms384m",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Scenario:
    """How a compose file would run one kind in a test, and what to check after."""

    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # container path -> content
    command: tuple[str, ...] | None = None
    user: str | None = None
    hostname: str | None = None
    mem_limit: str = "256m"
    ports: dict[int, int] = field(default_factory=dict)  # container port -> fixed port on 127.0.0.1


KAFKA_HOST_PORT = free_port()

SCENARIOS: dict[str, Scenario] = {
    **{kind: Scenario(files=files) for kind, files in PROXY_CONFIGS.items()},
    "python": Scenario(
        files={"/srv/healthz": "ok\n"},
        command=("python", "-m", "http.server", "8000", "--directory", "/srv"),
        user=CATALOG["python"].user,
    ),
    "postgres": Scenario(
        env={"POSTGRES_USER": "archgen", "POSTGRES_PASSWORD": "pg-s3cret", "POSTGRES_DB": "shop"},
        files={
            "/docker-entrypoint-initdb.d/01-schema.sql": "CREATE TABLE items (id int PRIMARY KEY, name text);"
            "INSERT INTO items VALUES (1, 'widget');",
            "/docker-entrypoint-initdb.d/02-more.sh": PG_INIT_SH,
        },
        command=("postgres", "-c", "max_connections=42"),
    ),
    "mysql": Scenario(
        env={
            "MYSQL_ROOT_PASSWORD": "root-s3cret",
            "MYSQL_DATABASE": "shop",
            "MYSQL_USER": "archgen",
            "MYSQL_PASSWORD": "my-s3cret",
        },
        files={
            "/docker-entrypoint-initdb.d/01-schema.sql": (
                "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50));"
                "INSERT INTO items VALUES (1, 'widget');"
            ),
            "/docker-entrypoint-initdb.d/02-more.sh": MYSQL_INIT_SH,
            "/etc/mysql/conf.d/archgen.cnf": "[mysqld]\nmax_connections = 77\n",
        },
        mem_limit="512m",
    ),
    "redis": Scenario(),
    "rabbitmq": Scenario(
        env={"RABBITMQ_DEFAULT_USER": "archgen", "RABBITMQ_DEFAULT_PASS": "mq-s3cret"},
        hostname="rabbitmq",  # the node name, and so the data path, follows it
        mem_limit="512m",
    ),
    "prometheus": Scenario(),
    "mongodb": Scenario(
        env={
            "MONGO_INITDB_ROOT_USERNAME": "root",
            "MONGO_INITDB_ROOT_PASSWORD": "mongo-s3cret",
            "MONGO_INITDB_DATABASE": "shop",
        },
        files={
            "/docker-entrypoint-initdb.d/01-app.js": MONGO_INIT_JS,
            "/docker-entrypoint-initdb.d/02-more.sh": MONGO_INIT_SH,
        },
    ),
    # One combined node; the advertised host listener names its port on 127.0.0.1.
    "kafka": Scenario(
        # plus a made-up property that shows the naming rule: ___ -> -, __ -> _, _ -> .
        env={
            **kafka_env(1, "1@localhost:9093", "localhost", KAFKA_HOST_PORT),
            "KAFKA_AGSTD___NAME__RULE_X": "1",
        },
        ports={29092: KAFKA_HOST_PORT},
        mem_limit="1g",
    ),
    "jaeger": Scenario(mem_limit="512m"),
    "keycloak": Scenario(
        env={
            "KC_BOOTSTRAP_ADMIN_USERNAME": "admin",
            "KC_BOOTSTRAP_ADMIN_PASSWORD": "admin-s3cret",
            "KC_HEALTH_ENABLED": "true",
            "KC_METRICS_ENABLED": "true",
        },
        files={"/opt/keycloak/data/import/shop-realm.json": json.dumps(KEYCLOAK_REALM)},
        command=("start-dev", "--import-realm"),
        mem_limit="1g",
    ),
    "neo4j": Scenario(
        env={"NEO4J_AUTH": "neo4j/neo4j-s3cret", "NEO4J_server_memory_heap_max__size": "512m"},
        mem_limit="1g",
    ),
    "solr": Scenario(env={"SOLR_HEAP": "384m"}, command=("solr-precreate", "shop"), mem_limit="1g"),
    "elasticsearch": Scenario(
        env={"discovery.type": "single-node", "xpack.security.enabled": "false",
             "cluster.name": "agstd-search", "ES_JAVA_OPTS": "-Xms384m -Xmx384m"},
        mem_limit="1g",
    ),
}
# Kinds whose first start takes long (JVM start, Quarkus augmentation), for time limits.
SLOW = {"kafka": 240, "keycloak": 300, "neo4j": 180, "solr": 180, "elasticsearch": 180}


def seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in sorted(units, key=len, reverse=True):
        if duration.endswith(unit):
            return float(duration[: -len(unit)]) * units[unit]
    raise ValueError(duration)


def compose_healthcheck(component: Component) -> dict[str, Any]:
    """The catalog's healthcheck as the Engine API takes it, after compose's `$$` -> `$`.

    Without start_interval, which needs API 1.44 (Docker 25) while these machines run
    Docker 20.10: the first probe comes one `interval` after the start, as it does
    when archgen runs the project here.
    """
    check = component.healthcheck
    assert check is not None
    return {
        "test": [part.replace("$$", "$") for part in check.test],
        "interval": int(seconds(check.interval) * 1e9),
        "timeout": int(seconds(check.timeout) * 1e9),
        "retries": check.retries,
        "start_period": int(seconds(check.start_period) * 1e9),
    }


def probe_argv(component: Component) -> list[str]:
    """The healthcheck as a command to exec in the container."""
    test = compose_healthcheck(component)["test"]
    return ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]


def deadline(component: Component) -> float:
    """How long compose would wait before calling the container unhealthy."""
    check = component.healthcheck
    assert check is not None
    return seconds(check.start_period) + check.retries * seconds(check.interval) + 10


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def docker_client() -> Any:
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as error:
        unavailable(f"no Docker engine reachable ({error.__class__.__name__}: {error})")
    return client


@pytest.fixture(scope="session")
def standins(docker_client: Any) -> dict[str, dict[str, str]]:
    """Build whatever stand-in image is missing (once, across xdist workers); the listing."""
    lock = Path(tempfile.gettempdir()) / "archgen-standin-images.lock"
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        proc = subprocess.run(
            [sys.executable, str(SCRIPT)],
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
            env=SCRIPT_ENV,
        )
    print(proc.stdout)
    if proc.returncode != 0:
        pytest.fail(f"scripts/standin-images failed:\n{proc.stdout}\n{proc.stderr}")
    return {row["kind"]: row for row in list_images()}


def list_images() -> list[dict[str, str]]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--list", "--json"],
        capture_output=True,
        text=True,
        check=True,
        env=SCRIPT_ENV,
    )
    rows: list[dict[str, str]] = json.loads(proc.stdout)
    return rows


@pytest.fixture
def run(docker_client: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Start a container like compose would; every one is removed with its volumes."""
    started: list[Any] = []

    def start(kind: str, scenario: Scenario, **overrides: Any) -> Any:
        component = CATALOG[kind]
        volumes = {}
        for index, (path, content) in enumerate(sorted(scenario.files.items())):
            host = tmp_path / f"{index}-{Path(path).name}"
            host.write_text(content)
            host.chmod(0o755 if path.endswith(".sh") else 0o644)
            volumes[str(host)] = {"bind": path, "mode": "ro"}
        options: dict[str, Any] = {
            "name": f"{PREFIX}{kind}-{uuid.uuid4().hex[:8]}",
            "command": list(scenario.command) if scenario.command else None,
            "environment": scenario.env,
            "volumes": volumes,
            "ports": {
                **{f"{port}/tcp": ("127.0.0.1", None) for port in component.ports.values()},
                **{f"{port}/tcp": ("127.0.0.1", fixed) for port, fixed in scenario.ports.items()},
            },
            "healthcheck": compose_healthcheck(component),
            "mem_limit": scenario.mem_limit,
            "user": scenario.user or "",
            "hostname": scenario.hostname,
            "detach": True,
        }
        options.update(overrides)
        container = docker_client.containers.run(component.image, **options)
        started.append(container)
        return container

    yield start
    for container in started:
        try:
            container.remove(force=True, v=True)
        except Exception as error:  # keep removing the others
            print(f"could not remove {container.name}: {error}")


def wait_healthy(container: Any, seconds_allowed: float) -> float:
    """Seconds until the healthcheck passed; fails with the logs if it did not in time."""
    started = time.monotonic()
    while time.monotonic() - started < seconds_allowed:
        container.reload()
        state = container.attrs["State"]
        if state.get("Health", {}).get("Status") == "healthy":
            return time.monotonic() - started
        if state["Status"] == "exited":
            break
        time.sleep(0.25)
    container.reload()
    state = container.attrs["State"]
    probes = "\n".join(
        f"  exit {probe['ExitCode']}: {probe['Output'].strip()[:300]}"
        for probe in state.get("Health", {}).get("Log", [])[-3:]
    )
    logs = container.logs(tail=40).decode(errors="replace")
    pytest.fail(
        f"{container.name} not healthy after {time.monotonic() - started:.0f}s "
        f"(status {state['Status']}, exit {state.get('ExitCode')})\n"
        f"last probes:\n{probes}\nlogs:\n{logs}"
    )


def wait_http(container: Any, port: int, seconds_allowed: float = 30) -> None:
    """Wait until /healthz answers 200 through the published port."""
    url_port = host_port(container, port)
    started = time.monotonic()
    while True:
        try:
            if http_get(url_port)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() - started > seconds_allowed:
            logs = container.logs(tail=20).decode(errors="replace")
            pytest.fail(f"{container.name}: no answer on /healthz in {seconds_allowed:.0f}s\n{logs}")
        time.sleep(0.25)


def host_port(container: Any, port: int) -> int:
    container.reload()
    return int(container.ports[f"{port}/tcp"][0]["HostPort"])


def exec_ok(container: Any, script: str) -> str:
    code, output = container.exec_run(["sh", "-c", script])
    text = output.decode(errors="replace")
    assert code == 0, f"`{script}` exited {code}: {text}"
    return text


def process_uids(container: Any) -> set[int]:
    text = exec_ok(container, "grep -h '^Uid:' /proc/[0-9]*/status")
    return {int(line.split()[1]) for line in text.splitlines()}


def user_uid(container: Any, user: str) -> int:
    return int(user) if user.isdigit() else int(exec_ok(container, f"id -u {user}"))


def http_get(port: int, path: str = "/healthz") -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.status, response.read().decode()


# ---------------------------------------------------------------- the script


def test_every_recipe_has_a_scenario() -> None:
    recipes = {path.parent.name for path in RECIPES.glob("*/Dockerfile")}
    assert recipes, "no recipes under scripts/standins/"
    assert recipes <= set(CATALOG), f"recipes for unknown kinds: {recipes - set(CATALOG)}"
    assert recipes == set(SCENARIOS), "every stand-in image needs a scenario here"


def test_listing_names_every_catalog_image(standins: dict[str, dict[str, str]]) -> None:
    assert {kind: row["image"] for kind, row in standins.items()} == {
        kind: component.image for kind, component in CATALOG.items()
    }
    for kind in SCENARIOS:
        assert standins[kind]["status"] == "present", standins[kind]
    unbuildable = {kind for kind, row in standins.items() if row["status"] == "unbuildable"}
    assert unbuildable == set(CATALOG) - set(SCENARIOS)
    for kind in SCENARIOS:
        row = standins[kind]
        assert row["tag"] == CATALOG[kind].tag
        assert set(row["source"].split("+")) <= {"debian", "pypi", "maven", "go", "npm"}, row
        assert row["version"] and row["note"], row
    # images older than content hashes have none
    for kind in ("mongodb", "kafka", "jaeger", "keycloak", "neo4j", "solr", "elasticsearch"):
        assert len(standins[kind]["hash"]) == 32, standins[kind]
    assert "wire-compatible" in standins["mongodb"]["note"]
    assert standins["kafka"]["source"] == "maven" and CATALOG["kafka"].tag in standins["kafka"]["version"]


@pytest.mark.timeout(180)
def test_rerun_is_a_quick_no_op(standins: dict[str, dict[str, str]]) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env=SCRIPT_ENV,
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "building" not in proc.stdout
    grafana = CATALOG["grafana"]
    assert f"{grafana.image}: cannot be built here ({grafana.notes})" in proc.stdout
    for kind in SCENARIOS:
        assert f"{CATALOG[kind].image} present, skipped" in proc.stdout
    assert elapsed < 30, f"no-op rerun took {elapsed:.0f}s"


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_image_is_labelled_stand_in(
    kind: str, docker_client: Any, standins: dict[str, dict[str, str]]
) -> None:
    labels = docker_client.images.get(CATALOG[kind].image).labels
    assert labels.get("io.archgen.standin") == "true"


# ---------------------------------------------------------------- each image


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", sorted(SCENARIOS))
def test_binaries(kind: str, docker_client: Any, standins: dict[str, dict[str, str]]) -> None:
    component = CATALOG[kind]
    wanted = component.binaries + ABSENT.get(kind, ())
    output = docker_client.containers.run(
        component.image,
        ["-c", " ".join(f"command -v {b} >/dev/null && echo {b}=y || echo {b}=n;" for b in wanted)],
        entrypoint="sh",
        name=f"{PREFIX}bin-{kind}-{uuid.uuid4().hex[:8]}",
        remove=True,
        mem_limit="64m",
    ).decode()
    found = dict(line.split("=") for line in output.split())
    assert [b for b in component.binaries if found[b] != "y"] == [], "missing binaries"
    assert [b for b in ABSENT.get(kind, ()) if found[b] != "n"] == [], "binaries the official image lacks"


@pytest.mark.parametrize(
    "kind", [pytest.param(kind, marks=pytest.mark.timeout(SLOW.get(kind, 150))) for kind in sorted(SCENARIOS)]
)
def test_catalog_healthcheck_passes(
    kind: str, run: Callable[..., Any], standins: dict[str, dict[str, str]]
) -> None:
    component = CATALOG[kind]
    container = run(kind, SCENARIOS[kind])
    wait_healthy(container, deadline(component))
    assert component.user is not None
    assert user_uid(container, component.user) in process_uids(container), (
        f"no process runs as {component.user}"
    )
    CHECKS.get(kind, check_http)(container, component)


def check_http(container: Any, component: Component) -> None:
    """/healthz answers through the port published on 127.0.0.1."""
    status, _ = http_get(host_port(container, component.ports["http"]))
    assert status == 200


def check_postgres(container: Any, component: Component) -> None:
    import psycopg

    env = SCENARIOS["postgres"].env
    port = host_port(container, component.main_port)
    dsn = f"host=127.0.0.1 port={port} dbname={env['POSTGRES_DB']} user={env['POSTGRES_USER']}"
    # Over the published port the server sees a non-local client: password auth applies.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"{dsn} password=wrong", connect_timeout=5)
    with psycopg.connect(f"{dsn} password={env['POSTGRES_PASSWORD']}", connect_timeout=5) as db:
        assert db.execute("SELECT name FROM items").fetchall() == [("widget",)]
        assert db.execute("SELECT note FROM from_sh").fetchall() == [("ran",)]
        assert db.execute("SHOW max_connections").fetchone() == ("42",)
        assert db.execute("SHOW password_encryption").fetchone() == ("scram-sha-256",)


def check_mysql(container: Any, component: Component) -> None:
    import pymysql

    env = SCENARIOS["mysql"].env
    port = host_port(container, component.main_port)
    db = pymysql.connect(
        host="127.0.0.1",
        port=port,
        user=env["MYSQL_USER"],
        password=env["MYSQL_PASSWORD"],
        database=env["MYSQL_DATABASE"],
        connect_timeout=5,
    )
    with db, db.cursor() as cursor:
        cursor.execute("SELECT name FROM items")
        assert cursor.fetchall() == (("widget",),)
        cursor.execute("SELECT note FROM from_sh")
        assert cursor.fetchall() == (("ran",),)
        cursor.execute("SELECT @@max_connections")
        assert cursor.fetchone() == (77,)
        cursor.execute("CREATE TABLE written (id INT)")  # ALL on its database
    root = pymysql.connect(
        host="127.0.0.1", port=port, user="root", password=env["MYSQL_ROOT_PASSWORD"], connect_timeout=5
    )
    root.close()
    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", port=port, user="root", password="", connect_timeout=5)


def check_redis(container: Any, component: Component) -> None:
    import redis

    # From outside the container: protected mode is off, as in the official image.
    client = redis.Redis(host="127.0.0.1", port=host_port(container, component.main_port), socket_timeout=5)
    assert client.ping() is True
    assert client.set("standin", "yes") and client.get("standin") == b"yes"


def check_rabbitmq(container: Any, component: Component) -> None:
    # `rabbitmq-diagnostics ping` passes a few seconds before the listeners open.
    env = SCENARIOS["rabbitmq"].env
    user, password = env["RABBITMQ_DEFAULT_USER"], env["RABBITMQ_DEFAULT_PASS"]
    port = host_port(container, component.ports["management"])
    auth = urllib.request.HTTPBasicAuthHandler()
    auth.add_password("RabbitMQ Management", f"http://127.0.0.1:{port}/", user, password)
    opener = urllib.request.build_opener(auth)
    started = time.monotonic()
    while True:
        try:
            with opener.open(f"http://127.0.0.1:{port}/api/whoami", timeout=5) as response:
                assert json.load(response)["name"] == user  # the user comes from the environment
                break
        except OSError:
            if time.monotonic() - started > 20:
                raise
            time.sleep(0.5)
    with socket.create_connection(("127.0.0.1", host_port(container, component.ports["amqp"])), 5) as amqp:
        amqp.sendall(b"AMQP\x00\x00\x09\x01")
        assert amqp.recv(8)[:1] == b"\x01"  # connection.start frame


def check_prometheus(container: Any, component: Component) -> None:
    assert http_get(host_port(container, component.ports["http"]), "/-/ready")[0] == 200


def check_mongodb(container: Any, component: Component) -> None:
    """CRUD through pymongo with authentication really enforced; init scripts ran."""
    import pymongo
    from pymongo.errors import OperationFailure

    env = SCENARIOS["mongodb"].env
    port = host_port(container, component.main_port)
    options: dict[str, Any] = {"host": "127.0.0.1", "port": port, "serverSelectionTimeoutMS": 10000}
    with pymongo.MongoClient(**options) as anonymous, pytest.raises(OperationFailure, match="authentication"):
        anonymous.shop.items.find_one()
    with pymongo.MongoClient(**options, username="root", password="wrong") as wrong, pytest.raises(
        OperationFailure, match="Authentication failed"
    ):
        wrong.admin.command("listDatabases")
    root_auth = {"username": env["MONGO_INITDB_ROOT_USERNAME"], "password": env["MONGO_INITDB_ROOT_PASSWORD"]}
    with pymongo.MongoClient(**options, **root_auth) as root:
        shop = root[env["MONGO_INITDB_DATABASE"]]
        assert shop.items.find_one({}, {"_id": 0}) == {"name": "widget"}  # *.js ran against the database
        assert shop.from_sh.find_one({}, {"_id": 0}) == {"note": "ran"}  # *.sh ran
        inserted = shop.orders.insert_one({"item": "widget", "qty": 2}).inserted_id
        assert shop.orders.update_one({"_id": inserted}, {"$inc": {"qty": 1}}).modified_count == 1
        assert shop.orders.find_one({"_id": inserted}, {"_id": 0}) == {"item": "widget", "qty": 3}
        assert shop.orders.delete_one({"_id": inserted}).deleted_count == 1
    # The init script's least-privilege user: created (its roles dropped), can log in.
    app = {"username": "app", "password": "app-s3cret", "authSource": env["MONGO_INITDB_DATABASE"]}
    with pymongo.MongoClient(**options, **app) as client:
        assert client.shop.items.count_documents({}) == 1
    assert "roles of user app ignored" in container.logs().decode(errors="replace")


def check_kafka(container: Any, component: Component) -> None:
    """The environment became server.properties; produce and consume on three partitions."""
    config = exec_ok(container, "cat /opt/kafka/config/server.properties").splitlines()
    assert "agstd-name_rule.x=1" in config
    assert "log.dirs=/var/lib/kafka/data" in config
    assert "process.roles=broker,controller" in config
    produce_and_consume(f"127.0.0.1:{KAFKA_HOST_PORT}", replication_factor=1)


def produce_and_consume(bootstrap: str, replication_factor: int) -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic

    topic = f"orders-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=replication_factor)])
        started = time.monotonic()
        while len((described := admin.describe_topics([topic])[0])["partitions"]) < 3:
            assert time.monotonic() - started < 30, f"topic never showed 3 partitions: {described}"
            time.sleep(0.5)
        assert {len(p["replica_nodes"]) for p in described["partitions"]} == {replication_factor}
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=30000)
    sent = {f"order-{i}".encode() for i in range(9)}
    for value in sorted(sent):
        producer.send(topic, key=value, value=value)
    producer.flush(timeout=30)
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"agstd-{topic}",
        auto_offset_reset="earliest",
        consumer_timeout_ms=30000,
    )
    received: dict[bytes, int] = {}
    for record in consumer:
        received[record.value] = record.partition
        if len(received) == len(sent):
            break
    consumer.close()
    assert set(received) == sent
    assert len(set(received.values())) > 1, "all records landed on one partition"


def check_jaeger(container: Any, component: Component) -> None:
    """An OTLP/HTTP span (JSON encoding) is stored and its service listed by the query API."""
    service = f"agstd-svc-{uuid.uuid4().hex[:6]}"
    span = {
        "traceId": uuid.uuid4().hex,
        "spanId": uuid.uuid4().hex[:16],
        "name": "GET /items",
        "kind": 2,
        "startTimeUnixNano": str(time.time_ns() - 5_000_000),
        "endTimeUnixNano": str(time.time_ns()),
    }
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "agstd"}, "spans": [span]}],
            }
        ]
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{host_port(container, component.ports['otlp-http'])}/v1/traces",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
    ui = host_port(container, component.ports["ui"])
    started = time.monotonic()
    while service not in (json.loads(http_get(ui, "/api/services")[1])["data"] or []):
        assert time.monotonic() - started < 30, "the span's service never showed up in /api/services"
        time.sleep(0.5)
    traces = json.loads(http_get(ui, f"/api/traces?service={service}")[1])["data"]
    assert traces[0]["spans"][0]["operationName"] == "GET /items"
    assert http_get(ui, "/")[0] == 200  # the UI


def check_keycloak(container: Any, component: Component) -> None:
    """The imported realm issues a token by password grant, signed by a key in its JWKS."""
    import base64

    port = host_port(container, component.ports["http"])
    realm = f"http://127.0.0.1:{port}/realms/{KEYCLOAK_REALM['realm']}"
    form = urllib.parse.urlencode(
        {"grant_type": "password", "client_id": "shop-app", "username": "alice", "password": "alice-s3cret"}
    ).encode()
    with urllib.request.urlopen(f"{realm}/protocol/openid-connect/token", data=form, timeout=30) as response:
        token = json.load(response)["access_token"]
    header_b64, claims_b64, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(header_b64 + "=" * (-len(header_b64) % 4)))
    claims = json.loads(base64.urlsafe_b64decode(claims_b64 + "=" * (-len(claims_b64) % 4)))
    assert claims["preferred_username"] == "alice"
    assert claims["iss"].endswith("/realms/shop")
    with urllib.request.urlopen(f"{realm}/protocol/openid-connect/certs", timeout=10) as response:
        kids = {key["kid"] for key in json.load(response)["keys"]}
    assert header["kid"] in kids
    wrong = urllib.parse.urlencode(
        {"grant_type": "password", "client_id": "shop-app", "username": "alice", "password": "nope"}
    ).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{realm}/protocol/openid-connect/token", data=wrong, timeout=30)
    assert refused.value.code == 401
    management = host_port(container, component.ports["management"])
    assert json.loads(http_get(management, "/health/ready")[1])["status"] == "UP"
    assert "jvm_memory_used_bytes" in http_get(management, "/metrics")[1]


def check_neo4j(container: Any, component: Component) -> None:
    """A Cypher round trip over Bolt as NEO4J_AUTH's user; a wrong password is refused."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError

    config = exec_ok(container, "cat /var/lib/neo4j/conf/neo4j.conf").splitlines()
    assert "server.memory.heap.max_size=512m" in config  # NEO4J_<setting>, `__` -> `_`
    uri = f"bolt://127.0.0.1:{host_port(container, component.ports['bolt'])}"
    with GraphDatabase.driver(uri, auth=("neo4j", "wrong-password")) as wrong, pytest.raises(AuthError):
        wrong.verify_connectivity()
    user, password = SCENARIOS["neo4j"].env["NEO4J_AUTH"].split("/", 1)
    with GraphDatabase.driver(uri, auth=(user, password)) as driver:
        driver.execute_query(
            "CREATE (:Customer {name: $name})-[:ORDERED {qty: 2}]->(:Product {title: $title})",
            name="ada", title="lamp",
        )
        records, _, _ = driver.execute_query(
            "MATCH (c:Customer)-[o:ORDERED]->(p:Product) "
            "RETURN c.name AS name, o.qty AS qty, p.title AS title"
        )
        assert [record.data() for record in records] == [{"name": "ada", "qty": 2, "title": "lamp"}]
        version, _, _ = driver.execute_query("CALL dbms.components() YIELD versions, edition "
                                             "RETURN versions[0] AS version, edition")
        assert version[0].data() == {"version": component.tag, "edition": "community"}
    status, body = http_get(host_port(container, component.ports["http"]), "/")
    assert status == 200 and json.loads(body)["neo4j_version"] == component.tag


def http_json(port: int, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def check_solr(container: Any, component: Component) -> None:
    """The precreated core indexes a document and finds it by a word of its text field."""
    port = host_port(container, component.ports["http"])
    system = http_json(port, "/solr/admin/info/system")
    assert system["lucene"]["solr-spec-version"] == component.tag
    assert "-Xmx384m" in " ".join(system["jvm"]["jmx"]["commandLineArgs"])  # SOLR_HEAP
    docs = [{"id": "p1", "title_t": "Desk lamp", "price_d": 9.5}, {"id": "p2", "title_t": "Chair"}]
    assert http_json(port, "/solr/shop/update?commit=true", docs)["responseHeader"]["status"] == 0
    found = http_json(port, "/solr/shop/select?q=title_t:lamp&fl=id,title_t,price_d")["response"]
    assert found["numFound"] == 1 and found["docs"] == [docs[0]]
    assert http_json(port, "/solr/shop/select?q=*:*&rows=0")["response"]["numFound"] == 2


def check_elasticsearch(container: Any, component: Component) -> None:
    """Elasticsearch's REST API (served by OpenSearch): index a document, find it by a word."""
    port = host_port(container, component.ports["http"])
    root = http_json(port, "/")
    assert root["cluster_name"] == "agstd-search"  # a dotted variable became a setting
    assert root["version"]["distribution"] == "opensearch"  # the stand-in says what it is
    jvm = next(iter(http_json(port, "/_nodes/jvm")["nodes"].values()))["jvm"]
    assert jvm["mem"]["heap_max_in_bytes"] == 384 * 1024 * 1024  # ES_JAVA_OPTS
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/products/_doc/p1?refresh=true",
        data=json.dumps({"title": "Desk lamp", "price": 9.5}).encode(),
        headers={"Content-Type": "application/json"}, method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert json.load(response)["result"] == "created"
    found = http_json(port, "/products/_search", {"query": {"match": {"title": "lamp"}}})["hits"]
    assert found["total"]["value"] == 1
    assert found["hits"][0]["_id"] == "p1" and found["hits"][0]["_source"]["price"] == 9.5
    assert http_json(port, "/products/_count")["count"] == 1


CHECKS: dict[str, Callable[[Any, Component], None]] = {
    "postgres": check_postgres,
    "mysql": check_mysql,
    "redis": check_redis,
    "rabbitmq": check_rabbitmq,
    "prometheus": check_prometheus,
    "mongodb": check_mongodb,
    "kafka": check_kafka,
    "jaeger": check_jaeger,
    "keycloak": check_keycloak,
    "neo4j": check_neo4j,
    "solr": check_solr,
    "elasticsearch": check_elasticsearch,
}


def test_redis_healthcheck_with_a_password(
    run: Callable[..., Any], standins: dict[str, dict[str, str]]
) -> None:
    # The catalog's probe reads the password from the secret file REDIS_PASSWORD_FILE names.
    scenario = Scenario(env={"REDIS_PASSWORD_FILE": "/run/secrets/redis_password"},
                        files={"/run/secrets/redis_password": "r3dis"},
                        command=("redis-server", "--requirepass", "r3dis"))
    container = run("redis", scenario)
    wait_healthy(container, deadline(CATALOG["redis"]))


@pytest.mark.timeout(180)
def test_kafka_without_settings_runs_the_default_single_node(
    run: Callable[..., Any], standins: dict[str, dict[str, str]]
) -> None:
    """No KAFKA_* setting: the image's own combined KRaft node, formatted on first start."""
    container = run("kafka", Scenario(mem_limit="1g"))
    wait_healthy(container, deadline(CATALOG["kafka"]))
    config = exec_ok(container, "cat /opt/kafka/config/server.properties")
    assert "controller.quorum.voters=1@localhost:9093" in config
    assert exec_ok(container, "ls /tmp/kraft-combined-logs").strip()
    topics = "/opt/kafka/bin/kafka-topics.sh --bootstrap-server localhost:9092"
    exec_ok(container, f"{topics} --create --topic agstd-default --partitions 3")
    assert "PartitionCount: 3" in exec_ok(container, f"{topics} --describe --topic agstd-default")

@pytest.mark.timeout(360)
def test_kafka_three_node_quorum_elects_and_replicates(
    docker_client: Any, run: Callable[..., Any], standins: dict[str, dict[str, str]]
) -> None:
    """Three combined KRaft nodes on a user-defined network elect a leader; rf=3 topics work."""
    suffix = uuid.uuid4().hex[:6]
    network = docker_client.networks.create(f"{PREFIX}kafka-{suffix}", driver="bridge")
    try:
        names = [f"kafka-{i}" for i in (1, 2, 3)]
        voters = ",".join(f"{i}@{name}:9093" for i, name in enumerate(names, 1))
        ports = [free_port() for _ in names]
        nodes = []
        for i, (name, port) in enumerate(zip(names, ports, strict=True), 1):
            env = kafka_env(i, voters, name, port)
            env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] = "3"
            env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] = "3"
            env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] = "2"
            env["KAFKA_MIN_INSYNC_REPLICAS"] = "2"
            container = run(
                "kafka",
                Scenario(env=env, ports={29092: port}, mem_limit="768m", hostname=name),
                network=network.name,
                networking_config={network.name: docker_client.api.create_endpoint_config(aliases=[name])},
            )
            nodes.append(container)
        for container in nodes:
            wait_healthy(container, deadline(CATALOG["kafka"]) + 60)
        quorum = "/opt/kafka/bin/kafka-metadata-quorum.sh --bootstrap-server localhost:9092"
        status = exec_ok(nodes[0], f"{quorum} describe --status")
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        assert int(fields["LeaderId"].strip()) in {1, 2, 3}, status
        assert fields["CurrentVoters"].count('"id"') == 3, status
        produce_and_consume(",".join(f"127.0.0.1:{port}" for port in ports), replication_factor=3)
    finally:  # the `run` fixture removes the containers
        network.reload()
        for container in network.containers:
            network.disconnect(container, force=True)
        network.remove()


INIT_DONE = {"postgres": "PostgreSQL init process complete", "mysql": "MySQL init process done"}


@pytest.mark.parametrize("kind", sorted(INIT_DONE))
def test_database_healthcheck_fails_during_init(
    kind: str, run: Callable[..., Any], standins: dict[str, dict[str, str]]
) -> None:
    """While first-run init runs on the socket-only server, the TCP probe must fail."""
    scenario = SCENARIOS[kind]
    slow = "#!/bin/sh\necho slow init; sleep 8\n"
    container = run(
        kind,
        Scenario(
            env=scenario.env,
            files={"/docker-entrypoint-initdb.d/00-slow.sh": slow},
            mem_limit=scenario.mem_limit,
        ),
    )
    started = time.monotonic()
    while "slow init" not in (logs := container.logs().decode(errors="replace")):
        assert time.monotonic() - started < 60, f"init script never ran:\n{logs}"
        time.sleep(0.2)
    code, output = container.exec_run(probe_argv(CATALOG[kind]))
    assert INIT_DONE[kind] not in container.logs().decode(errors="replace"), "probed too late"
    assert code != 0, f"healthcheck passed during init: {output!r}"
    wait_healthy(container, deadline(CATALOG[kind]))
    assert INIT_DONE[kind] in container.logs().decode(errors="replace")


def test_envoy_drops_to_envoy_user_unless_uid_0(
    run: Callable[..., Any], standins: dict[str, dict[str, str]]
) -> None:
    files = SCENARIOS["envoy"].files
    default = run("envoy", Scenario(files=files))
    as_root = run("envoy", Scenario(env={"ENVOY_UID": "0"}, files=files))
    for container in (default, as_root):
        wait_http(container, CATALOG["envoy"].ports["http"])
    pid1_uid = "awk '/^Uid:/ {print $2}' /proc/1/status"
    assert exec_ok(default, pid1_uid).strip() == "101"
    assert exec_ok(as_root, pid1_uid).strip() == "0"


def test_python_image_builds_a_fastapi_app(
    docker_client: Any, tmp_path: Path, standins: dict[str, dict[str, str]]
) -> None:
    """pip reaches PyPI from `docker build` (through the host CA bundle); venv works."""
    (tmp_path / "Dockerfile").write_text(
        f"FROM {CATALOG['python'].image}\n"
        "RUN pip install --no-cache-dir fastapi uvicorn"
        " && python -c 'import fastapi, uvicorn'\n"
        "RUN python -m venv /opt/venv && /opt/venv/bin/python -c 'import sys; print(sys.prefix)'\n"
    )
    tag = f"{PREFIX}python-build-{uuid.uuid4().hex[:8]}"
    try:
        docker_client.images.build(path=str(tmp_path), tag=tag, rm=True, forcerm=True)
    finally:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception as error:
            print(f"could not remove {tag}: {error}")
