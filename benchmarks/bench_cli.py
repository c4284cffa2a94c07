"""Benchmarks for the CLI: `archgen --help` vs a bare Typer app; `archgen new` of every architecture.

Run: python benchmarks/bench_cli.py [--runs N] [--only microservices]
Goals (printed, not asserted): help ≤ 1.25× a bare Typer app; `new` of the MVC example ≤ 1.0 s;
`new` of 3 microservices ≤ 2 s and ≤ 150 MB peak RSS, growing linearly with the services.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SERVICE_COUNTS = (3, 10, 50)
_DATABASES = ("postgres", "mysql", "mongodb")
# Published figures, not measured here: JHipster generating a gateway + 2 microservices +
# Kafka + Keycloak from a JDL on a 2-core machine.
JHIPSTER = "27–40 s, 1.1–1.35 GB peak RSS (JHipster, gateway + 2 services + Kafka + Keycloak; published)"

BARE_TYPER = '''
import typer
app = typer.Typer(add_completion=False)
for name in ["init", "validate", "new", "blueprints", "schema", "diagram", "up", "down", "status", "logs"]:
    def command() -> None:
        """A command."""
    app.command(name=name)(command)
@app.callback()
def root() -> None:
    """Bare."""
app()
'''


def _time(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _new(python: str, spec: Path | None, target: Path, env: dict[str, str]) -> float:
    argv = [python, "-m", "archgen", "new", *([str(spec)] if spec else []), "-o", str(target)]
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True, env=env)
    took = time.perf_counter() - start
    shutil.rmtree(target)
    return took


def microservices_spec(count: int) -> dict[str, object]:
    """`count` services on postgres, mysql and mongodb in turn, Kafka, one saga over three."""
    services = [{"name": f"svc{n}", "database": _DATABASES[n % 3],
                 "publishes": [f"svc{n}.changed"], "consumes": [f"svc{(n + 1) % count}.changed"]}
                for n in range(count)]
    return {"name": f"bench{count}", "architecture": "microservices", "bus": {"kind": "kafka"},
            "services": services,
            "sagas": [{"name": "flow", "steps": [
                {"service": f"svc{n}", "action": "step", "compensate": "undo"}
                for n in range(min(3, count))]}]}


def _new_measured(python: str, spec: Path, target: Path) -> tuple[float, float, float]:
    """Wall time (s), CPU time (s) and peak RSS (MB) of one `archgen new` process."""
    start = time.perf_counter()
    process = subprocess.Popen([python, "-m", "archgen", "new", str(spec), "-o", str(target)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    took = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"archgen new {spec} failed: {process.stderr.read() if process.stderr else ''}")
    if process.stderr:
        process.stderr.close()
    shutil.rmtree(target)
    # CPU time as well: on a shared machine the wall time includes waiting for a core.
    return took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: KiB


def bench_microservices(python: str, scratch: Path, runs: int) -> None:
    print(f"\n{'archgen new, microservices':44} {'seconds':>8} {'cpu s':>6} {'peak MB':>8}  goal")
    results: dict[int, float] = {}
    for count in SERVICE_COUNTS:
        spec = scratch / f"ms{count}.yaml"
        spec.write_text(yaml.safe_dump(microservices_spec(count), sort_keys=False))
        samples = [_new_measured(python, spec, scratch / f"ms{count}-{i}")
                   for i in range(max(3, runs // 5))]
        took = statistics.median(s[0] for s in samples)
        cpu = statistics.median(s[1] for s in samples)
        peak = max(s[2] for s in samples)
        results[count] = took
        goal = "≤ 2 s, ≤ 150 MB" if count == 3 else \
            f"linear: ≤ {results[3] * count / 3:.2f} s ({count}/3 × the 3-service time)"
        print(f"{f'{count} services + orchestrator, kafka':44} {took:8.3f} {cpu:6.2f} {peak:8.1f}"
              f"  {goal}")
    per_service = (results[SERVICE_COUNTS[-1]] - results[SERVICE_COUNTS[0]]) / (
        SERVICE_COUNTS[-1] - SERVICE_COUNTS[0])
    print(f"{'marginal cost per service':44} {per_service:8.3f} {'':6} {'':8}  (slope 3 → 50)")
    print(f"{'JHipster, for comparison':44} {JHIPSTER}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--only", choices=("all", "microservices"), default="all",
                        help="microservices: only the `archgen new` of 3, 10 and 50 services")
    arguments = parser.parse_args()
    runs = arguments.runs
    python = sys.executable
    if arguments.only == "microservices":
        with tempfile.TemporaryDirectory() as scratch:
            bench_microservices(python, Path(scratch), runs)
        return
    with tempfile.TemporaryDirectory() as scratch:
        bare = Path(scratch) / "bare.py"
        bare.write_text(BARE_TYPER)
        ours = _time([python, "-m", "archgen", "--help"], runs)
        theirs = _time([python, str(bare), "--help"], runs)
        # Cold: an empty compiled-template cache (the first run after an install or upgrade).
        cold_env = {**os.environ, "XDG_CACHE_HOME": str(Path(scratch) / "cold-cache")}
        cold = _new(python, None, Path(scratch) / "cold", cold_env)
        examples = Path(__file__).resolve().parent.parent / "examples"
        warm: dict[str, float] = {}
        for name, spec in (("MVC example", None), ("scaled example", examples / "scaled.yaml")):
            samples = [_new(python, spec, Path(scratch) / f"shop{i}", dict(os.environ))
                       for i in range(max(3, runs // 3))]
            warm[name] = statistics.median(samples)
    print(f"{'benchmark':44} {'seconds':>8} {'ratio':>7}  goal")
    print(f"{'archgen --help':44} {ours:8.3f} {ours / theirs:6.2f}×  ≤ 1.25× bare Typer ({theirs:.3f} s)")
    for name, took in warm.items():
        label = f"archgen new ({name}, whole process)"
        print(f"{label:44} {took:8.3f} {'':7}  ≤ 1.0 s")
    print(f"{'archgen new (MVC, empty template cache)':44} {cold:8.3f} {'':7}  (first run only)")
    with tempfile.TemporaryDirectory() as scratch:
        bench_microservices(python, Path(scratch), runs)


if __name__ == "__main__":
    main()
