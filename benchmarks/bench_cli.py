"""Benchmarks for the foundation: `archgen --help` vs a bare Typer app, and `archgen new`.

Run: python benchmarks/bench_cli.py [--runs N]
Goals (printed, not asserted): help ≤ 1.25× a bare Typer app; `new` of the MVC example ≤ 1.0 s.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    python = sys.executable
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


if __name__ == "__main__":
    main()
