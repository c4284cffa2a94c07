"""End to end on a real Docker engine: new → up → HTTPS through the real proxy → change → down."""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archgen.catalog import CATALOG
from archgen.runtime.model import LABEL_PROJECT
from tests.e2e.conftest import require_images

pytestmark = pytest.mark.docker

COMBINATIONS = [
    ("nginx", "postgres"),
    ("httpd", "postgres"),
    ("envoy", "postgres"),
    ("haproxy", "postgres"),
    ("nginx", "mysql"),
    ("nginx", "mongodb"),
    ("haproxy", "mongodb"),
]
RATE_LIMIT = 40


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def archgen(
    *args: str | Path, cwd: Path | None = None, check: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "archgen", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"archgen {' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-5000:]}"
        )
    return result


def _spec(name: str, proxy: str, database: str, http: int, https: int, requests: int,
          on_unavailable: str = "allow") -> dict[str, Any]:
    return {
        "name": name,
        "architecture": "mvc",
        "proxy": {"kind": proxy, "http_port": http, "https_port": https},
        "database": {"engine": database},
        "cache": {"rate_limit": {"requests": requests, "window": "60s",
                                 "on_unavailable": on_unavailable}, "ttl": "60s"},
        "app": {
            "entities": [
                {"name": "product", "fields": {"title": "str", "price": "float", "tags": "list[str]"}}
            ]
        },
    }


def _status(project: Path) -> dict[str, dict[str, Any]]:
    rows = json.loads(archgen("status", "--json", cwd=project).stdout)
    return {row["container"]: row for row in rows}


def _wait_engine_healthy(project: Path, deadline_s: float = 90) -> dict[str, dict[str, Any]]:
    # archgen probes health itself to start dependants early; the engine's own
    # healthcheck reports on its next interval, so poll (bounded) for its verdict.
    deadline = time.monotonic() + deadline_s
    while True:
        rows = _status(project)
        if rows and all(r["state"] == "running" and r["health"] == "healthy" for r in rows.values()):
            return rows
        if time.monotonic() > deadline:
            raise AssertionError(f"not all healthy after {deadline_s}s: {rows}")
        time.sleep(1)


def _secrets(project: Path) -> dict[str, str]:
    """The project's passwords by their variable's name (secrets/mysql_password: MYSQL_PASSWORD)."""
    return {path.name.upper(): path.read_text() for path in (project / "secrets").iterdir()}


def _no_password_in_inspect(docker_client: Any, project: Path, name: str) -> None:
    """`docker inspect` of every container shows no password: not in Env, Cmd or Entrypoint."""
    values = list(_secrets(project).values())
    assert values
    containers = docker_client.containers.list(
        all=True, filters={"label": f"{LABEL_PROJECT}={name}"})
    assert containers
    for container in containers:
        config = container.attrs["Config"]
        seen = json.dumps([config.get("Env"), config.get("Cmd"), config.get("Entrypoint")])
        leaked = [v for v in values if v in seen]
        assert not leaked, f"{container.name}: a password is in its inspect output"


def _db_value(docker_client: Any, project: Path, name: str, engine: str, sql: str) -> str:
    env = _secrets(project)
    container = docker_client.containers.get(f"{name}-db-1")
    if engine == "mongodb":
        return _mongo_value(container, env, sql)
    if engine == "postgres":
        command = ["psql", "-U", "app", "-d", "app", "-tAc", sql]
    else:
        command = ["mysql", "-uapp", f"-p{env['MYSQL_PASSWORD']}", "-h", "127.0.0.1", "app", "-N", "-e", sql]
    code, output = container.exec_run(command)
    assert code == 0, output.decode()
    return str(output.decode().strip())


def _mongosh(container: Any, env: dict[str, str], script: str, user: str = "app") -> tuple[int, str]:
    """Run `script` with mongosh in the db container, as the app user (db `app`) or as root."""
    if user == "app":
        login = ["--username", "app", "--password", env["MONGO_APP_PASSWORD"],
                 "--authenticationDatabase", "app"]
    else:
        login = ["--username", "root", "--password", env["MONGO_ROOT_PASSWORD"],
                 "--authenticationDatabase", "admin"]
    code, out = container.exec_run(["mongosh", "--quiet", *login, "app", "--eval", script])
    return code, out.decode().strip()


def _mongo_value(container: Any, env: dict[str, str], sql: str) -> str:
    """The two queries the test asks in SQL, answered from the `products` collection as the app."""
    title = re.fullmatch(r"SELECT title FROM (\w+) WHERE id = '([^']+)'", sql)
    count = re.fullmatch(r"SELECT COUNT\(\*\) FROM (\w+) WHERE id = '([^']+)'", sql)
    if title:
        script = f"print(db.{title[1]}.findOne({{_id: ObjectId('{title[2]}')}}).title)"
    elif count:
        script = f"print(db.{count[1]}.countDocuments({{_id: ObjectId('{count[2]}')}}))"
    else:
        raise AssertionError(f"no MongoDB query for {sql!r}")
    code, out = _mongosh(container, env, script)
    assert code == 0, out
    return out.splitlines()[-1]


def _app_user_is_confined(docker_client: Any, project: Path, name: str, engine: str) -> None:
    """The app's database user reaches its own database only and cannot create users."""
    env = _secrets(project)
    container = docker_client.containers.get(f"{name}-db-1")
    if engine == "postgres":
        def as_app(database: str, sql: str) -> tuple[int, str]:
            code, out = container.exec_run(["psql", "-U", "app", "-d", database, "-tAc", sql])
            return code, out.decode()
        code, out = as_app("postgres", "SELECT 1")
        assert code != 0 and "permission denied for database" in out, out
        code, out = as_app("app", "CREATE ROLE intruder LOGIN")
        assert code != 0 and "permission denied to create role" in out, out
        code, out = as_app("app", "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles "
                                  "WHERE rolname = current_user")
        assert code == 0 and out.strip() == "f", out
    elif engine == "mongodb":
        print("\nMongoDB stand-in (FerretDB) has no authorization: the app user's confinement "
              "is checked statically only")
        # The user exists in database `app` (not in `admin`), as app-user.js asked, with
        # readWrite on `app` alone; the app connects as it, not as root.
        code, out = _mongosh(container, env, "print(JSON.stringify(db.getSiblingDB('app')"
                                              ".runCommand({usersInfo: 'app'}).users))", user="root")
        assert code == 0, out
        users = json.loads(out.splitlines()[-1])
        assert [(u["user"], u["db"]) for u in users] == [("app", "app")], users
        code, out = _mongosh(container, env, "print(JSON.stringify(db.getSiblingDB('admin')"
                                              ".runCommand({usersInfo: 'app'}).users))", user="root")
        assert code == 0 and json.loads(out.splitlines()[-1]) == [], out
        code, out = _mongosh(container, env, "print(db.runCommand({connectionStatus: 1}).ok)")
        assert code == 0 and out.splitlines()[-1] == "1", out
        init = (project / "db" / "app-user.js").read_text()
        assert 'roles: [{ role: "readWrite", db: name }]' in init, init
        app_env = container.client.containers.get(f"{name}-app-1").attrs["Config"]["Env"]
        url = next(v.split("=", 1)[1] for v in app_env if v.split("=", 1)[1].startswith("mongodb://"))
        assert url.startswith("mongodb://app@") and "authSource=app" in url and "root" not in url, url
        code, out = _mongosh(container, {**env, "MONGO_APP_PASSWORD": "wrong"}, "print(1)")
        assert code != 0 and "Authentication failed" in out, out
    else:
        def as_app_mysql(sql: str) -> tuple[int, str]:
            code, out = container.exec_run(["mysql", "-uapp", f"-p{env['MYSQL_PASSWORD']}",
                                            "-h", "127.0.0.1", "-N", "-e", sql])
            return code, out.decode()
        code, out = as_app_mysql("SELECT COUNT(*) FROM mysql.user")
        assert code != 0 and "denied" in out, out
        code, out = as_app_mysql("CREATE USER intruder IDENTIFIED BY 'x'")
        assert code != 0 and "denied" in out, out
        code, out = as_app_mysql("SHOW DATABASES")
        assert set(out.split()) <= {"app", "information_schema"}, out


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _without_redis(client: httpx.Client, docker_client: Any, name: str, expect: int) -> float:
    """Stop Redis; requests still answer within the budget, with `expect`; then bring it back."""
    redis = docker_client.containers.get(f"{name}-redis-1")
    redis.stop(timeout=5)
    try:
        took = []
        for _ in range(40):
            started = time.perf_counter()
            response = client.get("/api/products")
            took.append(time.perf_counter() - started)
            assert response.status_code == expect, response.text
            assert response.headers.get("x-ratelimit-status") == "unavailable"
            if expect == 503:
                assert int(response.headers["retry-after"]) >= 1
    finally:
        redis.start()
    return _p95(took)


def _labelled(docker_client: Any, name: str) -> tuple[list[str], list[str], list[str]]:
    label = {"label": f"io.archgen.project={name}"}
    containers = [c.name for c in docker_client.containers.list(all=True, filters=label)]
    networks = [n.name for n in docker_client.networks.list(filters=label)]
    volumes = [v.name for v in docker_client.volumes.list(filters=label)]
    return containers, networks, volumes


def _the_generated_suite_passes_inside_the_stack(project: Path) -> None:
    """The project's own tests, as `app-test` (profile test), against its real database and Redis."""
    archgen("up", "--profile", "test", "--wait", "--timeout", "600", cwd=project)
    deadline = time.monotonic() + 300
    while True:
        rows = [r for r in _status(project).values() if r["service"] == "app-test"]
        if rows and rows[0]["state"].startswith("exited"):
            break
        assert time.monotonic() < deadline, f"app-test did not finish: {rows}"
        time.sleep(1)
    logs = archgen("logs", "app-test", "--tail", "5", cwd=project).stdout
    assert rows[0]["exit_code"] == 0, logs
    summary = logs.strip().splitlines()[-1]
    assert " passed" in summary and "skipped" not in summary and "failed" not in summary, logs


@pytest.mark.parametrize(("proxy", "database"), COMBINATIONS, ids=lambda v: str(v))
def test_mvc_stack_serves_crud_rate_limits_caches_and_converges(
    proxy: str, database: str, stack_dir: Path, tmp_path: Path, docker_client: Any
) -> None:
    require_images(
        docker_client,
        [CATALOG[proxy].image, CATALOG[database].image, CATALOG["redis"].image, CATALOG["python"].image],
    )
    name = f"e2e-{proxy}-{database}-{secrets.token_hex(3)}"
    http_port, https_port = _free_port(), _free_port()
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(_spec(name, proxy, database, http_port, https_port, RATE_LIMIT)))
    archgen("new", spec_file, "-o", stack_dir)
    archgen("up", "--wait", "--timeout", "600", cwd=stack_dir)

    base = f"https://127.0.0.1:{https_port}"
    with httpx.Client(base_url=base, verify=False, timeout=30) as client:
        # Plain HTTP redirects to HTTPS; the proxy answers its own health.
        redirect = httpx.get(f"http://127.0.0.1:{http_port}/api/products", timeout=10)
        assert redirect.status_code == 301
        assert redirect.headers["location"].startswith(f"https://127.0.0.1:{https_port}/")

        # Create, read, update (PUT and PATCH), list, and check the row in the database.
        created = client.post("/api/products", json={"title": "lamp", "price": 9.5, "tags": ["a"]})
        assert created.status_code == 201, created.text
        assert created.headers["strict-transport-security"]
        assert created.headers["x-request-id"]
        product_id = created.json()["id"]
        assert client.get(f"/api/products/{product_id}").json()["title"] == "lamp"
        table = "products"

        def stored(sql: str) -> str:
            return _db_value(docker_client, stack_dir, name, database, sql)

        assert stored(f"SELECT title FROM {table} WHERE id = '{product_id}'") == "lamp"
        put = client.put(
            f"/api/products/{product_id}", json={"title": "desk lamp", "price": 12.0, "tags": ["a", "b"]}
        )
        assert put.status_code == 200, put.text
        assert stored(f"SELECT title FROM {table} WHERE id = '{product_id}'") == "desk lamp"
        invalid = client.post("/api/products", json={"title": "x", "price": "cheap"})
        assert invalid.status_code == 422
        assert any(err["loc"][-1] == "price" for err in invalid.json()["detail"])

        # The cache: a GET is stored, served from Redis, then invalidated by a write.
        first = client.get(f"/api/products/{product_id}")
        second = client.get(f"/api/products/{product_id}")
        assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
        patched = client.patch(f"/api/products/{product_id}", json={"price": 15.0})
        assert patched.status_code == 200
        after_write = client.get(f"/api/products/{product_id}")
        assert after_write.headers["x-cache"] == "MISS"
        assert after_write.json()["price"] == 15.0

        doomed = client.post("/api/products", json={"title": "tmp", "price": 1.0, "tags": []})
        doomed_id = doomed.json()["id"]
        assert client.delete(f"/api/products/{doomed_id}").status_code == 204
        assert client.get(f"/api/products/{doomed_id}").status_code == 404
        assert stored(f"SELECT COUNT(*) FROM {table} WHERE id = '{doomed_id}'") == "0"
        listing = client.get("/api/products", params={"limit": 10, "offset": 0}).json()
        assert listing["total"] == 1 and listing["items"][0]["id"] == product_id

        # Every container healthy, as the engine itself sees it.
        before = _wait_engine_healthy(stack_dir)
        assert {row["service"] for row in before.values()} == {"proxy", "app", "db", "redis"}

        # `up` again with nothing changed touches nothing.
        again = json.loads(archgen("up", "--json", cwd=stack_dir).stdout)
        assert {c["id"] for c in _status(stack_dir).values()} == {c["id"] for c in before.values()}
        assert "recreate" not in json.dumps(again.get("plan", again)).lower() or all(
            not step.get("recreate") for step in again.get("plan", {}).get("services", [])
        )

        # The app's database user is confined to its own database.
        _app_user_is_confined(docker_client, stack_dir, name, database)
        # Passwords reach the containers as files only.
        _no_password_in_inspect(docker_client, stack_dir, name)

        # Exceed the rate limit: 429 with Retry-After and the limit headers. Each request
        # claims another client address: the edge replaces what the client sent, so they
        # all count against the one real client, exactly as without the forged headers.
        limited = None
        for i in range(RATE_LIMIT + 10):
            response = client.get("/api/products", headers={
                "X-Forwarded-For": f"203.0.113.{i % 250 + 1}", "X-Real-IP": f"198.51.100.{i + 1}"})
            if response.status_code == 429:
                limited = response
                break
        assert limited is not None, "no 429 within the limit + 10 requests (forged addresses)"
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.headers["x-ratelimit-limit"] == str(RATE_LIMIT)
        assert limited.headers["x-ratelimit-remaining"] == "0"
        logged = archgen("logs", "app", "--tail", "200", cwd=stack_dir).stdout
        assert "203.0.113." not in logged and "198.51.100." not in logged, logged[-2000:]

        if (proxy, database) == ("nginx", "postgres"):
            # Redis away: the limiter lets requests through (on_unavailable: allow) within
            # its time budget; once Redis is back, limiting resumes.
            p95 = _without_redis(client, docker_client, name, expect=200)
            print(f"\n{proxy}: without Redis, p95 of 40 GETs through the edge {p95 * 1000:.0f} ms")
            assert p95 <= 0.3, f"p95 {p95 * 1000:.0f} ms without Redis"
            deadline = time.monotonic() + 60
            while client.get("/api/products").status_code != 429:
                assert time.monotonic() < deadline, "limiting did not resume after Redis returned"
                time.sleep(0.5)

    # Raise the limit in the spec (and deny requests while Redis is away), re-render, `up`:
    # only the app container is recreated.
    spec_file.write_text(yaml.safe_dump(_spec(name, proxy, database, http_port, https_port, 5000,
                                              on_unavailable="deny")))
    archgen("new", spec_file, "-o", stack_dir, "--force")
    archgen("up", "--wait", "--timeout", "300", cwd=stack_dir)
    after = _status(stack_dir)
    changed = {row["service"] for name_, row in after.items() if before[name_]["id"] != row["id"]}
    assert changed == {"app"}
    with httpx.Client(base_url=base, verify=False, timeout=30) as client:
        kept = client.get(f"/api/products/{product_id}")
        assert kept.status_code == 200 and kept.json()["title"] == "desk lamp"
        if (proxy, database) == ("nginx", "postgres"):
            p95 = _without_redis(client, docker_client, name, expect=503)
            print(f"{proxy}: without Redis (deny), p95 of 40 GETs {p95 * 1000:.0f} ms, all 503")
            assert p95 <= 0.3
            deadline = time.monotonic() + 60
            while client.get("/api/products").status_code != 200:
                assert time.monotonic() < deadline, "requests were still refused after Redis returned"
                time.sleep(0.5)

    if (proxy, database) == ("nginx", "postgres"):
        _the_generated_suite_passes_inside_the_stack(stack_dir)
        # The generated Makefile's smoke test, as the generated CI runs it.
        smoke = subprocess.run(["make", "smoke"], cwd=stack_dir, capture_output=True, text=True,
                               timeout=120, check=False)
        assert smoke.returncode == 0, smoke.stdout + smoke.stderr

    # down: nothing labelled remains but the data volumes; --volumes removes those too.
    archgen("down", cwd=stack_dir)
    containers, networks, volumes = _labelled(docker_client, name)
    assert containers == [] and networks == []
    assert f"{name}_db-data" in volumes
    archgen("down", "--volumes", cwd=stack_dir)
    assert _labelled(docker_client, name) == ([], [], [])
