"""Benchmark: `archgen export` of the examples, from a rendered project and from a spec alone.

Run: python benchmarks/bench_export.py [--runs N]
Printed, not asserted. From a project, the export reads the workload model and the
mounted files; from a spec, it renders the project first into a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _time(runs: int, target: str, source: Path) -> float:
    from archgen.export import build_export

    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        build_export(target, source, istio=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    from archgen.export import build_export
    from archgen.render import render_project
    from archgen.spec import load_spec

    with tempfile.TemporaryDirectory() as temporary:
        for example in ("mvc", "scaled"):
            spec = REPO / "examples" / f"{example}.yaml"
            project = Path(temporary) / example
            render_project(load_spec(spec), project)
            for target in ("kubernetes", "helm"):
                from_project = _time(runs, target, project)
                from_spec = _time(runs, target, spec)
                files = len(build_export(target, project, istio=True).files)
                print(f"{example:7} {target:10} {files:3} files  from the project "
                      f"{from_project * 1000:7.1f} ms   from the spec {from_spec * 1000:7.1f} ms"
                      f"   (median of {runs})")


if __name__ == "__main__":
    main()
