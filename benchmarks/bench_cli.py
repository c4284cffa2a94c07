"""Benchmarks for the foundation: `archgen --help` vs a bare Typer app, and `archgen new`.

Run: python benchmarks/bench_cli.py [--runs N]
Goals (printed, not asserted): help ≤ 1.25× a bare Typer app; `new` of the MVC example ≤ 1.0 s.
"""

from __future__ import annotations

import argparse
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
        new_samples = []
        for i in range(max(3, runs // 3)):
            target = Path(scratch) / f"shop{i}"
            start = time.perf_counter()
            subprocess.run([python, "-m", "archgen", "new", "-o", str(target)], capture_output=True,
                           check=True)
            new_samples.append(time.perf_counter() - start)
            shutil.rmtree(target)
    new = statistics.median(new_samples)
    print(f"{'benchmark':40} {'seconds':>8} {'ratio':>7}  goal")
    print(f"{'archgen --help':40} {ours:8.3f} {ours / theirs:6.2f}×  ≤ 1.25× bare Typer ({theirs:.3f} s)")
    print(f"{'archgen new (MVC example, whole process)':40} {new:8.3f} {'':7}  ≤ 1.0 s")


if __name__ == "__main__":
    main()
