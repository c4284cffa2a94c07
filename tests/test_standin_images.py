"""The stand-in images from scripts/standin-images honour the official images' contracts.

Each buildable kind is run the way a compose file runs it (its env contract, a config
that answers /healthz, ports published on 127.0.0.1) and must pass the catalog's own
healthcheck within the time compose would allow; the binaries the catalog lists must
be there and the ones the official image lacks must not.
"""

from __future__ import annotations

import fcntl
import json
import socket
import subprocess
import sys
import tempfile
import time
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
PREFIX = "archgen-test-"

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


@dataclass(frozen=True)
class Scenario:
    """How a compose file would run one kind in a test, and what to check after."""

    env: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)  # container path -> content
    command: tuple[str, ...] | None = None
    user: str | None = None
    hostname: str | None = None
    mem_limit: str = "256m"


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
}


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
            "ports": {f"{port}/tcp": ("127.0.0.1", None) for port in component.ports.values()},
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
    assert "MongoDB" in standins["mongodb"]["reason"]


def test_rerun_is_a_quick_no_op(standins: dict[str, dict[str, str]]) -> None:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, check=False, timeout=120
    )
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "building" not in proc.stdout
    assert "mongo:7.0.16: cannot be built here (no MongoDB server in Debian's archive)" in proc.stdout
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


@pytest.mark.parametrize("kind", sorted(SCENARIOS))
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


CHECKS: dict[str, Callable[[Any, Component], None]] = {
    "postgres": check_postgres,
    "mysql": check_mysql,
    "redis": check_redis,
    "rabbitmq": check_rabbitmq,
    "prometheus": check_prometheus,
}


def test_redis_healthcheck_with_a_password(
    run: Callable[..., Any], standins: dict[str, dict[str, str]]
) -> None:
    scenario = Scenario(env={"REDIS_PASSWORD": "r3dis"}, command=("redis-server", "--requirepass", "r3dis"))
    container = run("redis", scenario)
    wait_healthy(container, deadline(CATALOG["redis"]))


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
