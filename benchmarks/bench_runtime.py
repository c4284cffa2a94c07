#!/usr/bin/env python3
"""archgen's runtime against Debian's docker-compose (v1), on one project, images present.

Three comparisons, printed as seconds and ratios from one run (or the median of
--rounds runs):

  (a) `archgen up --wait` until every service is healthy, against
      `docker-compose up -d` followed by polling the engine until every container
      is healthy (or running, or exited 0 for one-shot jobs)      goal <= 0.7x
  (b) a no-op `archgen up` on the running, unchanged project       goal <= 0.5 s
  (c) `archgen down` against `docker-compose down`                 goal <= 1.0x
  (d) `archgen status` on the running project                      goal <= 0.5 s
  (e) `archgen up --wait` against its physical floor               goal <= 1.3x
      The floor: each service's time from container start to healthy (or
      running, or exited 0) when started alone, with its dependencies already
      up, plus the time to create its container, summed along the longest
      `depends_on` chain. Start-to-healthy is timed by probing the service's own
      healthcheck every 0.05 s after `docker start`, so it is the time the
      service needs, not the healthcheck interval.

The two tools run one after the other under different project names (-p), on the
same images: a warm-up `archgen up` builds any `build:` image first, and the copy
of compose.yaml given to docker-compose v1 uses those images instead of building
(v1 also refuses `name:` and healthcheck `start_interval`, which are removed).

Usage:
    python benchmarks/bench_runtime.py PROJECT_DIR [--rounds N] [--json]
    python benchmarks/bench_runtime.py --demo           # a busybox project made here
    python benchmarks/bench_runtime.py --microservices  # examples/microservices.yaml: gateway,
        # 3 services (postgres, mysql, mongodb), Kafka, the saga orchestrator and its database
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from archgen.runtime.compose import load_project  # noqa: E402
from archgen.runtime.engine import Engine  # noqa: E402

COMPOSE_V1 = shutil.which("docker-compose") or "/usr/bin/docker-compose"
DEMO_IMAGE = "archgen-test/busybox:1"
DEMO_DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/sbin", "/usr/sbin", "/tmp", "/etc", "/var/www"]
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && chmod 1777 /tmp
"""


def archgen_command() -> list[str]:
    script = Path(sys.executable).parent / "archgen"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "archgen"]


def run(argv: list[str], *, quiet: bool = True) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=quiet, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        detail = f"\n{done.stdout}\n{done.stderr}" if quiet else ""
        raise SystemExit(f"failed ({done.returncode}): {' '.join(argv)}{detail}")
    return elapsed


def cpu_run(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one command.

    The CPU figure barely moves with other work on the machine; the wall figure does.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = run(argv)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compose_v1_file(root: Path, name: str, target: Path) -> None:
    """A copy of compose.yaml that docker-compose 1.29 accepts, on archgen's images."""
    raw = yaml.safe_load((root / "compose.yaml").read_text())
    project = load_project(root, name=name)
    raw.pop("name", None)
    for service_name, body in raw["services"].items():
        health = body.get("healthcheck")
        if isinstance(health, dict):
            health.pop("start_interval", None)
        if isinstance(body.get("depends_on"), dict):
            for dep in body["depends_on"].values():
                if isinstance(dep, dict):
                    dep.pop("required", None)
        body.pop("pull_policy", None)
        if "build" in body:
            body.pop("build")
            body["image"] = project.services[service_name].image
    target.write_text(yaml.safe_dump(raw, sort_keys=False))


def compose(root: Path, file: Path, name: str, *args: str) -> list[str]:
    return [COMPOSE_V1, "-f", str(file), "--project-directory", str(root), "-p", name, *args]


def wait_all_healthy(engine: Engine, name: str, expected: int, timeout: float = 600) -> None:
    """Poll (every 0.1 s) until `expected` containers of compose project `name` are ready."""
    deadline = time.monotonic() + timeout
    label = {"label": f"com.docker.compose.project={name}"}
    while time.monotonic() < deadline:
        entries = engine.api.containers(all=True, filters=label)
        ready = 0
        for entry in entries:
            state = engine.api.inspect_container(entry["Id"])["State"]
            health = (state.get("Health") or {}).get("Status")
            if state["Status"] == "exited" and state.get("ExitCode") != 0:
                raise SystemExit(f"docker-compose: {entry['Names'][0]} exited with {state.get('ExitCode')}")
            running = health is None and state["Status"] == "running"
            if health == "healthy" or running or state["Status"] == "exited":
                ready += 1
        if len(entries) >= expected and ready == len(entries):
            return
        time.sleep(0.1)
    raise SystemExit(f"docker-compose project {name} not healthy within {timeout} s")


def service_floor(engine: Engine, root: Path, name: str) -> dict[str, dict[str, float]]:
    """Per service: seconds to create its container, and from start to ready when started alone.

    Runs on the project brought up by `archgen up --wait`, in dependency order, so
    each service's dependencies are up while it is timed. Each service's container
    is replaced by a fresh one made exactly as `up` makes it (same config hash, so
    the project stays up to date): a first start, not a restart of a warm container.
    """
    from archgen.runtime.health import probe_command

    project = load_project(root, name=name)
    existing = {c.service: c for c in engine.containers(name) if c.number == 1}
    out: dict[str, dict[str, float]] = {}
    for service_name in project.active:
        service = project.services[service_name]
        old = existing[service_name]
        engine.stop(old.id, service.stop_grace_period)
        engine.remove(old.id)
        begin = time.perf_counter()
        container_id = engine.create_container(project, service, 1, old.config_hash or "")
        created = time.perf_counter()
        info = engine.inspect(container_id)
        test = ((info.get("Config") or {}).get("Healthcheck") or {}).get("Test") or []
        command = probe_command(list(test))
        start = time.perf_counter()
        engine.api.start(container_id)
        while True:
            state = engine.inspect(container_id)["State"]
            if state["Status"] == "exited":
                if state.get("ExitCode") != 0:
                    raise SystemExit(f"floor: {service_name} exited with {state.get('ExitCode')}")
                break
            running = state["Status"] == "running"
            if running and (command is None or engine.exec_probe(container_id, command)[0] == 0):
                break
            if time.perf_counter() - start > 300:
                raise SystemExit(f"floor: {service_name} not ready within 300 s")
            time.sleep(0.05)
        out[service_name] = {"create": created - begin, "ready": time.perf_counter() - start}
    return out


def floor_seconds(project: Any, times: dict[str, dict[str, float]]) -> tuple[float, list[str]]:
    """The longest `depends_on` chain by (create + ready) seconds, and that chain."""
    memo: dict[str, tuple[float, list[str]]] = {}

    def cost(name: str) -> tuple[float, list[str]]:
        if name not in memo:
            deps = [d.service for d in project.services[name].depends_on if d.service in times]
            best = max((cost(d) for d in deps), default=(0.0, []), key=lambda pair: pair[0])
            own = times[name]["create"] + times[name]["ready"]
            memo[name] = (best[0] + own, [*best[1], name])
        return memo[name]

    return max((cost(n) for n in times), key=lambda pair: pair[0])


def measure(root: Path, rounds: int) -> dict[str, Any]:
    engine = Engine.connect()
    tag = f"{os.getpid()}"
    ours, theirs = f"agrt-bench-a{tag}", f"agrt-bench-c{tag}"
    archgen = archgen_command()
    target = ["-C", str(root), "-p", ours]
    project = load_project(root, name=ours)
    expected = sum(project.services[s].replicas for s in project.active)
    print(f"project {root}: {len(project.active)} services, {expected} containers", file=sys.stderr)
    keys = (
        "a_ours",
        "a_theirs",
        "b_ours",
        "b_cpu",
        "c_ours",
        "c_theirs",
        "d_ours",
        "d_cpu",
        "e_floor",
        "e_ratio",
    )
    results: dict[str, list[float]] = {k: [] for k in keys}
    chain: list[str] = []
    floors: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "compose-v1.yaml"
        compose_v1_file(root, theirs, file)
        try:
            print("warm-up: archgen up --wait (builds images if needed), then down", file=sys.stderr)
            run([*archgen, "up", "--wait", *target], quiet=False)
            run([*archgen, "down", *target])
            for number in range(1, rounds + 1):
                print(f"round {number}/{rounds}", file=sys.stderr)
                results["a_ours"].append(run([*archgen, "up", "--wait", *target]))
                # On a shared machine one sample is noise: the median of five runs each.
                for key, command in (("b", "up"), ("d", "status")):
                    samples = [cpu_run([*archgen, command, *target]) for _ in range(5)]
                    results[f"{key}_ours"].append(statistics.median(wall for wall, _ in samples))
                    results[f"{key}_cpu"].append(statistics.median(cpu for _, cpu in samples))
                floors = service_floor(engine, root, ours)
                floor, chain = floor_seconds(project, floors)
                results["e_floor"].append(floor)
                # Same round, same load: the ratio is taken per round, then the median.
                results["e_ratio"].append(results["a_ours"][-1] / floor)
                results["c_ours"].append(run([*archgen, "down", *target]))
                start = time.perf_counter()
                run(compose(root, file, theirs, "up", "-d"))
                wait_all_healthy(engine, theirs, expected)
                results["a_theirs"].append(time.perf_counter() - start)
                results["c_theirs"].append(run(compose(root, file, theirs, "down")))
        finally:
            subprocess.run([*archgen, "down", "--volumes", *target], capture_output=True)
            subprocess.run(compose(root, file, theirs, "down", "--volumes"), capture_output=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    return {
        "project": str(root),
        "rounds": rounds,
        "services": len(project.active),
        "containers": expected,
        "up_wait": {
            "archgen": med["a_ours"],
            "docker_compose": med["a_theirs"],
            "ratio": med["a_ours"] / med["a_theirs"],
            "goal": 0.7,
        },
        "noop_up": {"archgen": med["b_ours"], "cpu": med["b_cpu"], "goal_seconds": 0.5},
        "status": {"archgen": med["d_ours"], "cpu": med["d_cpu"], "goal_seconds": 0.5},
        "load_average": os.getloadavg()[0],
        "floor": {
            "archgen": med["a_ours"],
            "floor": med["e_floor"],
            "ratio": med["e_ratio"],
            "rounds": [round(r, 3) for r in results["e_ratio"]],
            "goal": 1.3,
            "chain": chain,
            "services": floors,
        },
        "down": {
            "archgen": med["c_ours"],
            "docker_compose": med["c_theirs"],
            "ratio": med["c_ours"] / med["c_theirs"],
            "goal": 1.0,
        },
    }


def table(result: dict[str, Any]) -> str:
    up, noop, down, status, floor = (result[k] for k in ("up_wait", "noop_up", "down", "status", "floor"))
    rows = [
        ("benchmark", "archgen", "docker-compose", "ratio", "goal", ""),
        (
            "(a) up --wait until healthy",
            f"{up['archgen']:.2f} s",
            f"{up['docker_compose']:.2f} s",
            f"{up['ratio']:.2f}x",
            "<= 0.70x",
            _ok(up["ratio"] <= 0.7),
        ),
        (
            "(b) no-op up",
            f"{noop['archgen']:.2f} s",
            "-",
            f"cpu {noop['cpu']:.2f} s",
            "<= 0.50 s",
            _ok(noop["archgen"] <= 0.5),
        ),
        (
            "(c) down",
            f"{down['archgen']:.2f} s",
            f"{down['docker_compose']:.2f} s",
            f"{down['ratio']:.2f}x",
            "<= 1.00x",
            _ok(down["ratio"] <= 1.0),
        ),
        (
            "(d) status",
            f"{status['archgen']:.2f} s",
            "-",
            f"cpu {status['cpu']:.2f} s",
            "<= 0.50 s",
            _ok(status["archgen"] <= 0.5),
        ),
        (
            "(e) up --wait vs floor",
            f"{floor['archgen']:.2f} s",
            f"floor {floor['floor']:.2f} s",
            f"{floor['ratio']:.2f}x",
            "<= 1.30x",
            _ok(floor["ratio"] <= 1.3),
        ),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    head = (
        f"{result['project']}: {result['services']} services, {result['containers']} containers, "
        f"{result['rounds']} round(s)"
    )
    chain = " -> ".join(
        f"{n} ({floor['services'][n]['create']:.2f} + {floor['services'][n]['ready']:.2f} s)"
        for n in floor["chain"]
    )
    rounds = ", ".join(f"{r:.2f}x" for r in floor["rounds"])
    return "\n".join(
        [
            head,
            *lines,
            f"floor chain (create + start-to-ready): {chain}",
            f"floor ratio per round: {rounds}; load average at the end: {result['load_average']:.1f}",
        ]
    )


def _ok(passed: bool) -> str:
    return "ok" if passed else "MISSED"


def make_demo(root: Path) -> Path:
    """A busybox project: a healthcheck chain (cache, db -> migrate -> app -> proxy) plus a worker."""
    engine = Engine.connect()
    if not engine.image_id(DEMO_IMAGE):
        busybox = Path("/bin/busybox")
        if not busybox.is_file():
            raise SystemExit("the demo needs /bin/busybox: apt-get install busybox-static")
        with tempfile.TemporaryDirectory() as context:
            shutil.copy(busybox, Path(context) / "busybox")
            (Path(context) / "Dockerfile").write_text(DEMO_DOCKERFILE)
            for chunk in engine.api.build(path=context, tag=DEMO_IMAGE, rm=True, decode=True):
                if "error" in chunk:
                    raise SystemExit(f"building {DEMO_IMAGE}: {chunk['error']}")

    def http(ready_after: float, **extra: Any) -> dict[str, Any]:
        serve = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www"
        script = f"sleep {ready_after}; {serve}"
        return {
            "image": DEMO_IMAGE,
            "command": ["sh", "-c", script],
            "init": True,
            "restart": "unless-stopped",
            # The catalog's shape: a 5 s interval, start_interval for engines with API >= 1.44.
            "healthcheck": {
                "test": ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8000/"],
                "interval": "5s",
                "timeout": "5s",
                "retries": 5,
                "start_period": "20s",
                "start_interval": "1s",
            },
            **extra,
        }

    healthy = {"condition": "service_healthy"}
    compose = {
        "name": "benchdemo",
        "services": {
            "db": http(1.5, volumes=["db-data:/data"]),
            "cache": http(0.5),
            "migrate": {
                "image": DEMO_IMAGE,
                "command": ["sh", "-c", "sleep 0.5; echo migrated"],
                "depends_on": {"db": healthy},
            },
            "app": http(
                1.0,
                depends_on={
                    "db": healthy,
                    "cache": healthy,
                    "migrate": {"condition": "service_completed_successfully"},
                },
            ),
            "worker": http(0.5, depends_on={"cache": healthy}),
            "proxy": http(0.2, depends_on={"app": healthy}),
        },
        "volumes": {"db-data": {}},
    }
    root.mkdir(parents=True, exist_ok=True)
    (root / "compose.yaml").write_text(yaml.safe_dump(compose, sort_keys=False))
    return root


def make_microservices(root: Path) -> Path:
    """Render the 3-service example under a name and ports of its own."""
    import socket

    def free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    spec = yaml.safe_load((REPO / "examples" / "microservices.yaml").read_text())
    spec["name"] = f"bench-ms-{os.getpid()}"
    spec["gateway"].update(http_port=free_port(), https_port=free_port())
    root.mkdir(parents=True, exist_ok=True)
    (root / "spec.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    project = root / "project"
    run([*archgen_command(), "new", str(root / "spec.yaml"), "-o", str(project)])
    return project


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "project", nargs="?", type=Path, help="a rendered project directory (with compose.yaml)"
    )
    parser.add_argument("--demo", action="store_true", help="benchmark a busybox project made in a temp dir")
    parser.add_argument("--microservices", action="store_true",
                        help="benchmark the 3-service microservices example, rendered here")
    parser.add_argument("--rounds", type=int, default=1, help="repeat and report medians (default 1)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    if not shutil.which(COMPOSE_V1) and not Path(COMPOSE_V1).is_file():
        raise SystemExit("docker-compose (v1) not found: apt-get install docker-compose")
    if args.demo:
        with tempfile.TemporaryDirectory() as tmp:
            result = measure(make_demo(Path(tmp) / "benchdemo"), args.rounds)
    elif args.microservices:
        with tempfile.TemporaryDirectory() as tmp:
            result = measure(make_microservices(Path(tmp)), args.rounds)
    elif args.project:
        result = measure(args.project.resolve(), args.rounds)
    else:
        parser.error("give a project directory, --demo or --microservices")
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
