"""End to end on a real Docker engine: the scaled blueprint balances, survives and fails over.

One stack per load-balancer kind (haproxy, nginx, envoy), each with 3 app replicas,
PostgreSQL (a primary and two streaming standbys) and Redis with a replica and three
sentinels. On each stack:

- every algorithm (round_robin, least_conn, weighted 3:1:1, ip_hash) is switched in by
  rewriting the spec, `archgen new --force` and `archgen up --wait` (only the load
  balancer is recreated), then 300 GETs of /whoami show the spread;
- one replica is stopped under traffic: the detection window is measured, idempotent
  GETs see no failure, and the replica rejoins once started again.

On the haproxy stack, the data tier: the Redis primary is stopped (a replica is promoted
and rate limiting keeps counting), and a write on the PostgreSQL primary is read on a
standby (the lag is measured).

MongoDB is not run here (no MongoDB image can be built on this machine): the replica-set
variant is rendered and checked statically by tests/render/test_scaled_render.py.

Every measurement is printed with the prefix `[scaled]` (run with -s to see them).
Traffic goes only to ports published on 127.0.0.1; every loop is bounded in count and time.
"""

from __future__ import annotations

import collections
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archgen.catalog import CATALOG
from archgen.runtime.model import LABEL_PROJECT
from tests.e2e.conftest import require_images

pytestmark = pytest.mark.docker

KINDS = ["haproxy", "nginx", "envoy"]  # haproxy first: the data-tier tests reuse its stack
ALGORITHMS = ["round_robin", "least_conn", "weighted", "ip_hash"]
REPLICAS = ["app-1", "app-2", "app-3"]
WEIGHTS = [3, 1, 1]
GETS = 300
TOLERANCE = 0.10  # ±10 % of each replica's expected share
SLOW = 0.5  # seconds: a GET slower than this was held up by a failed replica
NOT_RUN = "MongoDB replica set: rendered and checked statically (tests/render), not run here"


def say(message: str) -> None:
    print(f"[scaled] {message}", flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def archgen(*args: str | Path, cwd: Path | None = None, check: bool = True,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "archgen", *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"archgen {' '.join(map(str, args))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-5000:]}")
    return result


@dataclass
class Stack:
    kind: str
    name: str
    root: Path
    http_port: int
    https_port: int
    docker: Any
    algorithm: str = ""
    measured: dict[str, Any] = field(default_factory=dict)

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def spec_file(self) -> Path:
        return self.root / "archgen.yaml"

    def spec(self, algorithm: str) -> dict[str, Any]:
        app: dict[str, Any] = {"replicas": len(REPLICAS), "entities": [
            {"name": "product", "fields": {"title": "str", "price": "float"}}]}
        if algorithm == "weighted":
            app["weights"] = WEIGHTS
        return {
            "name": self.name,
            "architecture": "scaled",
            "load_balancer": {"kind": self.kind, "algorithm": algorithm,
                              "http_port": self.http_port, "https_port": self.https_port},
            "app": app,
            "database": {"engine": "postgres", "replicas": 3},
            # A limit no test reaches: the spread tests send well over a thousand GETs a minute.
            "cache": {"sentinel": True, "rate_limit": {"requests": 1_000_000, "window": "60s"},
                      "ttl": "60s"},
        }

    def status(self) -> dict[str, dict[str, Any]]:
        rows = json.loads(archgen("status", "--json", cwd=self.project).stdout)
        return {row["service"]: row for row in rows}

    def use(self, algorithm: str) -> None:
        """Render the stack with `algorithm` and converge it; only the LB may be recreated."""
        if algorithm == self.algorithm:
            return
        before = self.status() if self.algorithm else {}
        self.spec_file.write_text(yaml.safe_dump(self.spec(algorithm)))
        force = ["--force"] if self.algorithm else []
        archgen("new", self.spec_file, "-o", self.project, *force)
        started = time.monotonic()
        archgen("up", "--wait", "--timeout", "600", cwd=self.project)
        after = self.status()
        if before:
            changed = {s for s, row in after.items() if before.get(s, {}).get("id") != row["id"]}
            assert changed == {"lb"}, f"switching to {algorithm} recreated {sorted(changed)}"
            say(f"{self.kind}: switched to {algorithm} in {time.monotonic() - started:.1f}s "
                "(only the load balancer recreated)")
        else:
            say(f"{self.kind}: stack up in {time.monotonic() - started:.1f}s with services "
                f"{', '.join(sorted(after))}")
        assert {r["service"] for r in after.values() if r["state"] == "running"} >= {"lb", *REPLICAS}
        self.algorithm = algorithm
        self.wait_for_replicas_in_rotation()

    def wait_for_replicas_in_rotation(self, limit: float = 60.0) -> None:
        """Wait (bounded) until the new load balancer sends to every replica.

        `up --wait` waits for the load balancer's own health. Envoy reports ready once
        its first round of health checks is done, but a replica that missed that round
        joins only after its next successful checks; its admin API tells.
        """
        started = time.monotonic()
        while time.monotonic() - started < limit:
            # nginx and HAProxy count a replica as up until it fails; Envoy adds each
            # replica once its name resolved and it passed a health check (admin API).
            if self.kind != "envoy" or self.envoy_healthy_hosts() == len(REPLICAS):
                if self.algorithm != "ip_hash":
                    if set(_spread(self, 6)) == set(REPLICAS):
                        break
                else:  # one client sees one replica: give Envoy's hosts time to settle
                    time.sleep(2.0 if self.kind == "envoy" else 0.0)
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"not every replica in rotation after {limit:.0f}s")
        waited = time.monotonic() - started
        if waited > 0.5:
            say(f"{self.kind}: every replica in rotation {waited:.1f}s after `up --wait`")

    def envoy_healthy_hosts(self) -> int:
        request = ("exec 3<>/dev/tcp/127.0.0.1/9901 && printf 'GET /clusters HTTP/1.1\\r\\n"
                   "Host: localhost\\r\\nConnection: close\\r\\n\\r\\n' >&3 && cat <&3")
        _code, output = self.container("lb").exec_run(["bash", "-c", request])
        flags = [line for line in output.decode(errors="replace").splitlines()
                 if line.startswith("app::") and "::health_flags::" in line]
        return sum(line.endswith("::healthy") for line in flags)

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=f"https://127.0.0.1:{self.https_port}", verify=False,
                            timeout=15, **options)

    def container(self, service: str) -> Any:
        return self.docker.containers.get(f"{self.name}-{service}-1")

    def env(self, key: str) -> str:
        """A password by its variable's name, from its file in secrets/."""
        return (self.project / "secrets" / key.lower()).read_text()


@pytest.fixture(scope="module", params=KINDS)
def stack(request: pytest.FixtureRequest, docker_client: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    kind: str = request.param
    require_images(docker_client, [CATALOG[kind].image, CATALOG["postgres"].image,
                                   CATALOG["redis"].image, CATALOG["python"].image])
    say(NOT_RUN)
    root = tmp_path_factory.mktemp(f"scaled-{kind}")
    built = Stack(kind, f"e2e-sc-{kind}-{secrets.token_hex(3)}", root, _free_port(),
                  _free_port(), docker_client)
    try:
        built.use("round_robin")
        yield built
    finally:
        if (built.project / "compose.yaml").is_file():
            archgen("down", "--volumes", cwd=built.project, check=False)


def _spread(stack: Stack, count: int = GETS) -> collections.Counter[str]:
    served: collections.Counter[str] = collections.Counter()
    with stack.client() as client:
        for _ in range(count):
            answer = client.get("/whoami")
            assert answer.status_code == 200, answer.text
            instance = answer.json()["instance"]
            assert answer.headers["x-served-by"] == instance
            served[instance] += 1
    return served


def _within(served: collections.Counter[str], shares: dict[str, float]) -> None:
    total = sum(served.values())
    for replica, share in shares.items():
        expected = total * share
        assert abs(served[replica] - expected) <= TOLERANCE * expected, (
            f"{replica}: {served[replica]} of {total}, expected {expected:.0f} ±10 %: {served}")


def test_no_password_is_in_any_containers_inspect_output(stack: Stack) -> None:
    values = [path.read_text() for path in (stack.project / "secrets").iterdir()]
    containers = stack.docker.containers.list(
        all=True, filters={"label": f"{LABEL_PROJECT}={stack.name}"})
    assert values and len(containers) >= 10
    for container in containers:
        config = container.attrs["Config"]
        seen = json.dumps([config.get("Env"), config.get("Cmd"), config.get("Entrypoint")])
        assert not [v for v in values if v in seen], f"{container.name}: a password is visible"
        if any(v.endswith("_FILE=/run/secrets/redis_password") for v in config.get("Env") or []):
            mounts = {m["Destination"] for m in container.attrs["Mounts"]}
            assert "/run/secrets/redis_password" in mounts, container.name


# -- balancing ----------------------------------------------------------------------------


def test_every_algorithm_spreads_as_it_says(stack: Stack) -> None:
    for algorithm in ALGORITHMS:
        stack.use(algorithm)
        served = _spread(stack)
        say(f"{stack.kind} {algorithm}: {GETS} GETs -> "
            + ", ".join(f"{r}={served[r]}" for r in REPLICAS))
        assert set(served) <= set(REPLICAS)
        if algorithm == "round_robin":
            _within(served, {r: 1 / 3 for r in REPLICAS})
        elif algorithm == "weighted":
            _within(served, {r: w / sum(WEIGHTS) for r, w in zip(REPLICAS, WEIGHTS, strict=True)})
        elif algorithm == "least_conn":
            # Sequential requests: every replica has nothing in flight at each pick, so the
            # tie-break decides. HAProxy and nginx break ties round robin (an even spread);
            # Envoy's least-request balancer picks the less busy of two random replicas, so
            # ties are random: every replica still serves, but not necessarily a third.
            if stack.kind == "envoy":
                assert all(served[r] >= 0.15 * GETS for r in REPLICAS), served
            else:
                _within(served, {r: 1 / 3 for r in REPLICAS})
        else:  # ip_hash: one client (one source address), one replica
            assert len(served) == 1, served
            # New connections (other source ports) from the same address stay there too.
            again = collections.Counter()
            for _ in range(20):
                with stack.client() as fresh:
                    again[fresh.get("/whoami").json()["instance"]] += 1
            assert set(again) == set(served), again
        stack.measured[algorithm] = dict(served)


# -- a replica goes away and comes back ------------------------------------------------------


@dataclass
class Sample:
    at: float  # time.monotonic() when the request was sent; made relative to the stop later
    took: float
    status: int | str
    served_by: str | None


class Traffic:
    """GETs of /whoami one after another in a thread, until stopped (bounded by `limit`)."""

    def __init__(self, stack: Stack, limit: float = 60.0) -> None:
        self.stack = stack
        self.limit = limit
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        started = time.monotonic()
        with self.stack.client() as client:
            while not self._stop.is_set() and time.monotonic() - started < self.limit:
                begin = time.monotonic()
                try:
                    answer = client.get("/whoami")
                    status: int | str = answer.status_code
                    served_by = answer.headers.get("x-served-by")
                except httpx.HTTPError as error:
                    status, served_by = type(error).__name__, None
                self.samples.append(Sample(begin, time.monotonic() - begin, status, served_by))
                time.sleep(0.02)


def _stop_and_measure(stack: Stack, victim: str) -> tuple[float, list[Sample], list[Sample]]:
    """Stop `victim` under traffic; return (detection window, samples during it, after it).

    The window runs from the moment `docker stop` is issued (the replica shuts down
    gracefully and may still answer meanwhile) until the last request that the failing
    replica disturbed (an error, or held up by a failed attempt and a retry), and at
    least until the replica has stopped.
    """
    container = stack.container(victim)
    with Traffic(stack) as traffic:
        time.sleep(1.0)
        origin = time.monotonic()
        container.stop(timeout=10)
        stopped = time.monotonic() - origin
        time.sleep(12.0)
    samples = [Sample(s.at - origin, s.took, s.status, s.served_by)
               for s in traffic.samples if s.at >= origin]
    assert len(samples) > 100, f"only {len(samples)} requests under traffic"
    disturbed = [s for s in samples if s.status != 200 or s.took > SLOW]
    window = max([stopped, *(s.at + s.took for s in disturbed)])
    during = [s for s in samples if s.at < window]
    after = [s for s in samples if s.at >= window]
    return window, during, after


def test_a_stopped_replica_is_left_out_and_rejoins(stack: Stack) -> None:
    stack.use("round_robin")
    window, during, after = _stop_and_measure(stack, "app-2")
    failures = [s for s in during + after if s.status != 200]
    say(f"{stack.kind}: app-2 stopped -> detection window {window:.2f}s "
        f"({len(during)} GETs in it, {sum(s.took > SLOW for s in during)} slowed by a retry, "
        f"{len(failures)} failed); {len(after)} GETs after it, "
        f"{sum(s.status != 200 for s in after)} failed")
    assert window < 10.0, f"the replica was not left out within 10s ({window:.1f}s)"
    assert [s for s in after if s.status != 200] == []
    assert len(after) >= 50
    assert {s.served_by for s in after} <= {"app-1", "app-3"}
    # Idempotent GETs are retried on another replica: none failed even inside the window.
    assert failures == [], failures[:5]
    stack.measured["detection_window_s"] = round(window, 2)

    stack.container("app-2").start()
    started = time.monotonic()
    rejoined = None
    with stack.client() as client:
        while time.monotonic() - started < 90:
            if client.get("/whoami").headers.get("x-served-by") == "app-2":
                rejoined = time.monotonic() - started
                break
            time.sleep(0.1)
    assert rejoined is not None, "app-2 was started again but served nothing within 90s"
    say(f"{stack.kind}: app-2 started again -> serving again after {rejoined:.1f}s")
    _within(_spread(stack, 150), {r: 1 / 3 for r in REPLICAS})


def test_ip_hash_moves_a_client_only_while_its_replica_is_down(stack: Stack) -> None:
    stack.use("ip_hash")
    (home,) = _spread(stack, 30)
    window, _during, after = _stop_and_measure(stack, home)
    moved = {s.served_by for s in after}
    say(f"{stack.kind} ip_hash: the client's replica {home} stopped -> moved to "
        f"{sorted(moved)} after {window:.2f}s, no failure")
    assert len(moved) == 1 and home not in moved
    assert all(s.status == 200 for s in after)
    stack.container(home).start()
    started = time.monotonic()
    back = None
    with stack.client() as client:
        while time.monotonic() - started < 90:
            if client.get("/whoami").headers.get("x-served-by") == home:
                back = time.monotonic() - started
                break
            time.sleep(0.1)
    assert back is not None, f"{home} was started again but the client did not return to it"
    say(f"{stack.kind} ip_hash: {home} back -> the client returns to it after {back:.1f}s "
        "(consistent hashing)")


# -- the data tier, once (on the haproxy stack) ---------------------------------------------


@pytest.mark.parametrize("stack", ["haproxy"], indirect=True)
def test_postgres_writes_on_the_primary_are_read_on_a_standby(stack: Stack) -> None:
    with stack.client() as client:
        created = client.post("/api/products", json={"title": "lamp", "price": 9.5})
        written = time.monotonic()
        assert created.status_code == 201, created.text
        product_id = created.json()["id"]
        # Read-your-writes through the load balancer: any replica finds it at once.
        for _ in range(6):
            assert client.get(f"/api/products/{product_id}").status_code == 200
        listing = client.get("/api/products").json()
        assert product_id in {item["id"] for item in listing["items"]}

    standby = stack.container("db-2")
    query = f"SELECT count(*) FROM products WHERE id = '{product_id}'"
    seen = None
    while time.monotonic() - written < 30:
        code, output = standby.exec_run(["psql", "-U", "app", "-d", "app", "-tAc", query])
        assert code == 0, output.decode()
        if output.decode().strip() == "1":
            seen = time.monotonic() - written
            break
        time.sleep(0.02)
    assert seen is not None, "the write never reached the standby db-2 within 30s"
    code, output = stack.container("db-1").exec_run(
        ["psql", "-U", "postgres", "-d", "app", "-tAc",
         "SELECT application_name, client_addr, state, "
         "coalesce(extract(epoch FROM replay_lag), 0) FROM pg_stat_replication"])
    assert code == 0, output.decode()
    rows = [line.split("|") for line in output.decode().split() if line]
    assert len(rows) == 2 and all(row[2] == "streaming" for row in rows), rows
    lags = [float(row[3]) * 1000 for row in rows]
    code, output = standby.exec_run(["psql", "-U", "app", "-d", "app", "-tAc",
                                     "SELECT pg_is_in_recovery()"])
    assert output.decode().strip() == "t"
    # Lists were served by a standby: the app keeps pooled connections open on one.
    reads = 0
    for node in ("db-2", "db-3"):
        code, output = stack.container(node).exec_run(
            ["psql", "-U", "postgres", "-d", "app", "-tAc",
             "SELECT count(*) FROM pg_stat_activity WHERE usename = 'app' "
             "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"])
        reads += int(output.decode().strip() or 0)
    assert reads >= 1, "no app connection on either standby: lists were not read there"
    say(f"postgres: a write on db-1 visible on db-2 after {seen * 1000:.0f} ms (polled through "
        f"docker exec, which adds its own ~tens of ms); replay_lag reported by the primary: "
        + ", ".join(f"{lag:.1f} ms" for lag in lags))
    stack.measured["replication_visible_ms"] = round(seen * 1000)


def _sentinel_master(stack: Stack) -> str:
    code, output = stack.container("sentinel-3").exec_run(
        ["redis-cli", "-p", "26379", "sentinel", "get-master-addr-by-name", "mymaster"],
        environment={"REDISCLI_AUTH": stack.env("REDIS_PASSWORD")})
    assert code == 0, output.decode()
    return output.decode().split()[0]


@pytest.mark.parametrize("stack", ["haproxy"], indirect=True)
def test_redis_sentinel_promotes_the_replica_and_rate_limiting_goes_on(stack: Stack) -> None:
    primary = _sentinel_master(stack)
    replica = next(n for n in ("redis-1", "redis-2") if n != primary)
    with stack.client() as client:
        before = client.get("/whoami")
        assert "x-ratelimit-remaining" in before.headers  # the limiter counts in Redis

        stack.container(primary).stop(timeout=10)
        stopped = time.monotonic()
        promoted = limited = None
        unlimited = 0
        while time.monotonic() - stopped < 60:
            if promoted is None and _sentinel_master(stack) == replica:
                promoted = time.monotonic() - stopped
            answer = client.get("/whoami")
            assert answer.status_code == 200, answer.text  # served throughout, limited or not
            if "x-ratelimit-remaining" not in answer.headers:
                unlimited += 1  # Redis unreachable: the app serves without limiting (logged)
            elif promoted is not None:
                limited = time.monotonic() - stopped
                break
            time.sleep(0.1)
        assert promoted is not None, f"the sentinels did not promote {replica} within 60s"
        assert limited is not None, "rate limiting did not resume after the promotion"
        # Counting goes on on the promoted node: one less left with every request.
        remaining = [int(client.get("/whoami").headers["x-ratelimit-remaining"])
                     for _ in range(5)]
        assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == 5, remaining
    say(f"redis sentinel: {primary} stopped -> {replica} promoted after {promoted:.1f}s; "
        f"rate limiting counting again after {limited:.1f}s ({unlimited} GETs served "
        "unlimited meanwhile, none failed)")
    stack.measured["sentinel_failover_s"] = round(promoted, 1)

    # The old primary comes back as a replica of the new one.
    stack.container(primary).start()
    started = time.monotonic()
    role = ""
    while time.monotonic() - started < 90:
        code, output = stack.container(primary).exec_run(
            ["redis-cli", "info", "replication"],
            environment={"REDISCLI_AUTH": stack.env("REDIS_PASSWORD")})
        role = output.decode()
        if code == 0 and "role:slave" in role and f"master_host:{replica}" in role:
            break
        time.sleep(1)
    assert "role:slave" in role, f"{primary} did not rejoin as a replica: {role[:300]}"
    say(f"redis sentinel: {primary} back -> a replica of {replica} after "
        f"{time.monotonic() - started:.0f}s")


@pytest.mark.parametrize("stack", ["haproxy"], indirect=True)
def test_with_redis_and_its_sentinels_gone_requests_stay_fast(stack: Stack) -> None:
    """Every Redis node and sentinel stopped: the limiter's time budget and circuit breaker
    keep each request near the app's own time (allow: served unlimited), then limiting resumes."""
    redis = ["sentinel-1", "sentinel-2", "sentinel-3", "redis-1", "redis-2"]
    for service in redis:
        stack.container(service).stop(timeout=5)
    try:
        with stack.client() as client:
            took = []
            for _ in range(40):
                started = time.perf_counter()
                answer = client.get("/whoami")
                took.append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
                assert answer.headers.get("x-ratelimit-status") == "unavailable"
    finally:
        for service in reversed(redis):
            stack.container(service).start()
    p95 = sorted(took)[int(len(took) * 0.95) - 1]
    say(f"redis and sentinels stopped: p95 of 40 GETs through the load balancer "
        f"{p95 * 1000:.0f} ms (max {max(took) * 1000:.0f} ms), all served")
    assert p95 <= 0.3, f"p95 {p95 * 1000:.0f} ms without Redis"
    deadline = time.monotonic() + 120
    with stack.client() as client:
        while "x-ratelimit-remaining" not in client.get("/whoami").headers:
            assert time.monotonic() < deadline, "rate limiting did not resume after Redis returned"
            time.sleep(0.5)
