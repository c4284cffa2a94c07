"""Observability added to any resolved architecture: Prometheus scraping every app instance.

Jaeger (`tracing.py`) and Grafana (`dashboards.py`) are added after it, each only when listed.

`observability: [prometheus]` adds one workload (`prometheus`), its graph node and its
scrape edges, and the `observability` part (prometheus/prometheus.yml and
prometheus/alerts.yml) rendered from the same data, so every scrape target is a
workload's own name. The edge is scraped where its kind exports Prometheus metrics
itself (envoy, haproxy) on a listener that is never published; nginx and httpd have
no native Prometheus output and are not scraped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen.catalog import CATALOG
from archgen.model import uis
from archgen.model.common import APP_PORT, FRONTEND, digest, hardened
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.uis import UI_BIND, add_ui
from archgen.model.workload import Mount, PublishedPort, Workload

PROMETHEUS = "prometheus"
CONFIG_DIR = "/etc/prometheus"
SCRAPE_INTERVAL = "15s"
# The edge kinds that serve Prometheus metrics themselves: on which container port and path.
# Neither port is published; only containers on the edge's network reach it.
EDGE_METRICS: dict[str, dict[str, Any]] = {
    "envoy": {"port": 9902, "path": "/stats/prometheus",
              "how": "a listener that serves only the admin's /stats/prometheus"},
    "haproxy": {"port": 8405, "path": "/metrics",
                "how": "HAProxy's built-in prometheus-exporter service on its own frontend"},
}
# Alerting thresholds (prometheus/alerts.yml).
ALERTS = {"down_for": "1m", "error_ratio": 0.05, "error_window": "5m", "error_for": "5m"}


def with_observability(architecture: Architecture, spec: dict[str, Any]) -> Architecture:
    """`architecture` plus what `spec["observability"]` asks for: Prometheus, Jaeger, Grafana."""
    from archgen.model.dashboards import GRAFANA, with_grafana
    from archgen.model.tracing import JAEGER, with_jaeger

    tools = spec.get("observability") or []
    if not tools:
        return architecture
    ui_ports = spec.get("ui_ports") or {}
    architecture.context["observability"] = {
        "tools": [t for t in (PROMETHEUS, JAEGER, GRAFANA) if t in tools]}
    if PROMETHEUS in tools:
        architecture = _with_prometheus(architecture, spec)
    if JAEGER in tools:
        architecture = with_jaeger(architecture, ui_ports)
    if GRAFANA in tools:
        architecture = with_grafana(architecture, ui_ports)
    return replace(architecture, parts=(*architecture.parts, ("observability", ".")))


def _with_prometheus(architecture: Architecture, spec: dict[str, Any]) -> Architecture:
    context = architecture.context
    edge: dict[str, Any] = context["edge"]
    native = EDGE_METRICS.get(str(edge["kind"]))
    workloads = list(architecture.workloads)
    if native is not None:
        # The edge config gains its metrics listener: its label must change with it.
        edge["metrics"] = {"port": native["port"], "path": native["path"]}
        workloads = [_relabel(w, edge) if w.name == edge["service"] else w for w in workloads]
    jobs = _app_jobs(workloads)
    if native is not None:
        jobs.append({"name": edge["service"], "path": native["path"],
                     "targets": [f"{edge['service']}:{native['port']}"],
                     "comment": f"the {edge['kind']} {edge['label']}: {native['how']}"})
    ui_port = uis.ui_port(spec, PROMETHEUS)
    entry = CATALOG[PROMETHEUS]
    prometheus = {
        "service": PROMETHEUS, "image": entry.image, "port": entry.main_port,
        "ui_port": ui_port, "bind": UI_BIND, "url": f"http://{UI_BIND}:{ui_port}",
        "scrape_interval": SCRAPE_INTERVAL, "jobs": jobs, "alerts": ALERTS,
        "edge": {"kind": edge["kind"], "service": edge["service"], "label": edge["label"],
                 "scraped": native is not None,
                 "how": native["how"] if native else
                 f"{edge['kind']} has no native Prometheus output: the {edge['label']} is not "
                 "scraped"},
    }
    context["observability"]["prometheus"] = prometheus
    add_ui(architecture, "Prometheus", PROMETHEUS, f"http://{UI_BIND}:{ui_port}", "ui_ports.prometheus",
           "metrics, targets and alerts")
    by_name = {w.name: w for w in workloads}
    targets = [t.split(":")[0] for job in jobs for t in job["targets"]]
    workloads.append(_prometheus_workload(prometheus, _networks(targets, by_name)))
    nodes = (*architecture.nodes,
             Node(PROMETHEUS, PROMETHEUS, "metrics", "platform", "prometheus", entry.image,
                  (Port("http", entry.main_port, ui_port, UI_BIND),)))
    edges = (*architecture.edges,
             *(Edge(PROMETHEUS, job["node"], "HTTP", APP_PORT) for job in jobs if "node" in job),
             *((Edge(PROMETHEUS, str(edge["service"]), "HTTP", native["port"]),) if native else ()))
    return replace(architecture, nodes=nodes, edges=edges, workloads=tuple(workloads))


def _relabel(workload: Workload, edge: dict[str, Any]) -> Workload:
    labels = tuple((k, digest(edge) if k == "io.archgen.edge-config" else v)
                   for k, v in workload.labels)
    return replace(workload, labels=labels)


def _app_jobs(workloads: list[Workload]) -> list[dict[str, Any]]:
    """One scrape job per app node (the app, or each service), one target per instance."""
    jobs: dict[str, dict[str, Any]] = {}
    for w in workloads:
        if w.kind == "python" and not w.job:
            job = jobs.setdefault(w.node, {"name": w.node, "node": w.node, "path": "/metrics",
                                           "targets": [], "comment": ""})
            job["targets"].append(f"{w.name}:{APP_PORT}")
    for job in jobs.values():
        count = len(job["targets"])
        job["comment"] = (f"{job['name']}: {count} instance{'s' if count > 1 else ''}"
                          f"{', each its own target' if count > 1 else ''}")
    return list(jobs.values())


def networks_reaching(targets: list[str], workloads: tuple[Workload, ...]) -> tuple[str, ...]:
    """The fewest networks that reach every workload named in `targets`."""
    return _networks(targets, {w.name: w for w in workloads})


def _networks(targets: list[str], by_name: dict[str, Workload]) -> tuple[str, ...]:
    """The fewest networks that reach every target: one a target shares with most of the rest."""
    left = [t for t in targets if t in by_name]
    chosen: list[str] = []
    while left:
        counts: dict[str, int] = {}
        for target in left:
            for network in by_name[target].networks:
                counts[network] = counts.get(network, 0) + 1
        # On a tie, the edge's network (frontend) rather than one that holds data stores.
        best = max(sorted(counts), key=lambda n: (counts[n], n == FRONTEND))
        chosen.append(best)
        left = [t for t in left if best not in by_name[t].networks]
    return tuple(chosen)


def _prometheus_workload(prometheus: dict[str, Any], networks: tuple[str, ...]) -> Workload:
    entry = CATALOG[PROMETHEUS]
    assert entry.data_path is not None and entry.healthcheck is not None
    return Workload(
        name=PROMETHEUS,
        node=PROMETHEUS,
        kind=PROMETHEUS,
        image=entry.image,
        # Replaces the image's CMD: both of its flags are repeated.
        command=(f"--config.file={CONFIG_DIR}/prometheus.yml",
                 f"--storage.tsdb.path={entry.data_path}",
                 "--storage.tsdb.retention.time=7d"),
        ports=(PublishedPort("http", entry.main_port, prometheus["ui_port"], UI_BIND),),
        mounts=(Mount(f"{PROMETHEUS}-data", entry.data_path),
                Mount("./prometheus/prometheus.yml", f"{CONFIG_DIR}/prometheus.yml",
                      read_only=True),
                Mount("./prometheus/alerts.yml", f"{CONFIG_DIR}/alerts.yml", read_only=True)),
        healthcheck=entry.healthcheck,
        memory="256M",
        security=hardened(PROMETHEUS, "65534"),
        networks=networks,
        stop_grace_period="30s",
        labels=(("io.archgen.prometheus-config", digest(prometheus)),),
        stateful=True,
        comment=("Prometheus scrapes every app instance (and the edge where it exports metrics "
                 f"itself); its UI and API are published on {UI_BIND} only.",),
        field_comments=(("labels", "The config is a mounted file, which no engine compares: "
                                   "this label changes with it, so `up` recreates Prometheus "
                                   "exactly when its config changes."),),
    )
