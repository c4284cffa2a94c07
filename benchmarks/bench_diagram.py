"""Benchmark: the diagram of a 50-service microservices spec in every format.

Run: python benchmarks/bench_diagram.py [--services N] [--runs N]
Goal (printed, not asserted): every format, SVG and PNG included, in ≤ 1 s in total.
The spec is built in memory and resolved once; each format is timed from the resolved
model (graph building plus writing, and Graphviz's layout for SVG and PNG).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from typing import Any

GOAL_SECONDS = 1.0
DATABASES = ("postgres", "mysql", "mongodb", "redis", "neo4j", "elasticsearch", "solr", "none")


def spec(services: int) -> dict[str, Any]:
    entries: list[dict[str, Any]] = []
    for index in range(services):
        entry: dict[str, Any] = {"name": f"svc-{index:02d}",
                                 "database": DATABASES[index % len(DATABASES)]}
        if index % 5 == 4:
            entry["replicas"] = 3
        if index and index % 3 == 0:
            entry["depends_on"] = [f"svc-{index - 1:02d}"]
        entries.append(entry)
    return {
        "name": "bench",
        "architecture": "microservices",
        "gateway": {"kind": "envoy", "http_port": 8080, "https_port": 8443},
        "auth": {"provider": "keycloak", "realm": "bench"},
        "bus": {"kind": "kafka"},
        "services": entries,
        "observability": ["prometheus", "grafana", "jaeger"],
    }


def main() -> None:
    from archgen.diagram import FORMATS, render_diagram
    from archgen.model import resolve
    from archgen.spec import spec_from_data

    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    architecture = resolve(spec_from_data(spec(options.services)))
    have_dot = shutil.which("dot") is not None
    formats = [f for f in FORMATS if have_dot or f not in ("svg", "png")]
    print(f"{options.services} services: {len(architecture.nodes)} nodes, "
          f"{len(architecture.edges)} edges; median of {options.runs} runs")
    print(f"{'format':8} {'seconds':>8} {'bytes':>9}")
    total = 0.0
    for fmt in formats:
        samples = []
        size = 0
        for _ in range(options.runs):
            start = time.perf_counter()
            output = render_diagram(architecture, fmt)
            samples.append(time.perf_counter() - start)
            size = len(output.encode("utf-8") if isinstance(output, str) else output)
        median = statistics.median(samples)
        total += median
        print(f"{fmt:8} {median:8.3f} {size:9d}")
    verdict = "ok" if total <= GOAL_SECONDS else "OVER"
    print(f"{'total':8} {total:8.3f}   goal ≤ {GOAL_SECONDS:.1f} s: {verdict}")
    if not have_dot:
        print("(svg and png skipped: Graphviz's `dot` is not installed)")


if __name__ == "__main__":
    main()
