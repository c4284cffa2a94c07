"""Observability added to any resolved architecture: Prometheus scraping every app instance.

Jaeger (`tracing.py`) and Grafana (`dashboards.py`) are added after it, each only when listed.

`observability: [prometheus]` adds one workload (`prometheus`), its graph node and its
scrape edges, and the `observability` part (prometheus/prometheus.yml and
prometheus/alerts.yml) rendered from the same data, so every scrape target is a
workload's own name. The edge is scraped too, always on a listener that is never
published: envoy and haproxy serve Prometheus metrics themselves; nginx (`stub_status`)
and httpd (`mod_status`) serve a status page there instead, which a small exporter
sidecar (`<edge>-exporter`, a stdlib-only script on the app's Python image) turns into
Prometheus metrics on each scrape.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from archgen.catalog import CATALOG, Healthcheck
from archgen.model import uis
from archgen.model.common import APP_PORT, FRONTEND, digest, hardened, relabel_edge
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
# The edge kinds without Prometheus output: a status page on an internal listener, which an
# exporter sidecar translates. Ports and metric prefixes are those of the well-known
# exporters (nginx-prometheus-exporter, apache_exporter), so dashboards made for them fit.
STATUS_PORT = 8081  # the edge's status listener: never published
STATUS_PAGES: dict[str, dict[str, Any]] = {
    "nginx": {"path": "/stub_status", "module": "stub_status", "prefix": "nginx",
              "exporter_port": 9113},
    "httpd": {"path": "/server-status", "query": "?auto", "module": "mod_status",
              "prefix": "apache", "exporter_port": 9117},
}
# Who may read the status page besides the exporter: private addresses only (Docker's and
# Kubernetes' networks), so even a port published by mistake shows nothing to the outside.
STATUS_ALLOW = ("127.0.0.1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
EXPORTER_SCRIPT = "edge_exporter.py"
EXPORTER_KIND = "edge-exporter"  # not a catalog kind: it runs the catalog's python image
EXPORTER_DIR = "/etc/archgen/exporter"
# Alerting thresholds (prometheus/alerts.yml).
ALERTS = {"down_for": "1m", "error_ratio": 0.05, "error_window": "5m", "error_for": "5m"}


def with_observability(architecture: Architecture, spec: dict[str, Any]) -> Architecture:
    """`architecture` plus what `spec["observability"]` asks for: Prometheus, Jaeger, Grafana."""
    from archgen.model.dashboards import GRAFANA, with_grafana
    from archgen.model.tracing import JAEGER, with_jaeger

    tools = spec.get("observability") or []
    if not tools:
        return architecture
    architecture.context["observability"] = {
        "tools": [t for t in (PROMETHEUS, JAEGER, GRAFANA) if t in tools]}
    if PROMETHEUS in tools:
        architecture = _with_prometheus(architecture, spec)
    if JAEGER in tools:
        architecture = with_jaeger(architecture, spec)
    if GRAFANA in tools:
        architecture = with_grafana(architecture, spec)
    return replace(architecture, parts=(*architecture.parts, ("observability", ".")))


def _with_prometheus(architecture: Architecture, spec: dict[str, Any]) -> Architecture:
    context = architecture.context
    edge: dict[str, Any] = context["edge"]
    workloads = list(architecture.workloads)
    jobs = _app_jobs(workloads)
    edge_job, exporter = _edge_metrics(edge)
    if edge_job is not None:
        # The edge config gains its metrics or status listener: its label must change with it.
        workloads = [relabel_edge(w, edge) if w.name == edge["service"] else w for w in workloads]
        jobs.append(edge_job)
    if exporter is not None:
        edge_workload = next(w for w in workloads if w.name == edge["service"])
        workloads.append(_exporter_workload(exporter, edge_workload.networks))
    ui_port = uis.ui_port(spec, PROMETHEUS)
    entry = CATALOG[PROMETHEUS]
    prometheus = {
        "service": PROMETHEUS, "image": entry.image, "port": entry.main_port,
        "ui_port": ui_port, "bind": UI_BIND, "url": f"http://{UI_BIND}:{ui_port}",
        "scrape_interval": SCRAPE_INTERVAL, "jobs": jobs, "alerts": ALERTS,
        "edge": {"kind": edge["kind"], "service": edge["service"], "label": edge["label"],
                 "scraped": edge_job is not None,
                 "how": edge_job["how"] if edge_job else
                 f"{edge['kind']} has no Prometheus output: the {edge['label']} is not scraped",
                 "exporter": exporter["service"] if exporter else None,
                 # The exporter answers even when the edge does not: `<prefix>_up` says which.
                 "up_metric": f"{exporter['prefix']}_up" if exporter else None},
    }
    context["observability"]["prometheus"] = prometheus
    add_ui(architecture, "Prometheus", PROMETHEUS, ui_port, PROMETHEUS,
           "metrics, targets and alerts")
    by_name = {w.name: w for w in workloads}
    targets = [t.split(":")[0] for job in jobs for t in job["targets"]]
    workloads.append(_prometheus_workload(prometheus, _networks(targets, by_name)))
    nodes = [*architecture.nodes,
             Node(PROMETHEUS, PROMETHEUS, "metrics", "platform", "prometheus", entry.image,
                  (Port("http", entry.main_port, ui_port, UI_BIND),))]
    edges = [*architecture.edges,
             *(Edge(PROMETHEUS, job["node"], "HTTP", APP_PORT) for job in jobs if "node" in job)]
    if exporter is not None:
        python = CATALOG["python"]
        nodes.append(Node(exporter["service"], EXPORTER_KIND, "metrics", "platform",
                          f"{edge['kind']} exporter", python.image,
                          (Port("metrics", exporter["port"]),)))
        edges += [Edge(PROMETHEUS, exporter["service"], "HTTP", exporter["port"]),
                  Edge(exporter["service"], str(edge["service"]), "HTTP", STATUS_PORT)]
    elif edge_job is not None:
        edges.append(Edge(PROMETHEUS, str(edge["service"]), "HTTP", edge_job["port"]))
    return replace(architecture, nodes=tuple(nodes), edges=tuple(edges),
                   workloads=tuple(workloads))


def _edge_metrics(edge: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The edge's scrape job, and the exporter that serves it where the edge cannot.

    Sets what the edge's config template reads: `edge.metrics` (a native listener) or
    `edge.status` (the status page), and `edge.exporter` for the exporter's script.
    """
    kind = str(edge["kind"])
    service = str(edge["service"])
    native = EDGE_METRICS.get(kind)
    if native is not None:
        edge["metrics"] = {"port": native["port"], "path": native["path"]}
        return {"name": service, "path": native["path"], "port": native["port"],
                "targets": [f"{service}:{native['port']}"], "how": native["how"],
                "comment": f"the {kind} {edge['label']}: {native['how']}"}, None
    page = STATUS_PAGES.get(kind)
    if page is None:
        return None, None
    edge["status"] = {"port": STATUS_PORT, "path": page["path"], "allow": list(STATUS_ALLOW)}
    exporter: dict[str, Any] = {
        "service": f"{service}-exporter", "edge_kind": kind, "edge_label": edge["label"],
        "edge_service": service, "prefix": page["prefix"], "port": page["exporter_port"],
        "status_url": f"http://{service}:{STATUS_PORT}{page['path']}{page.get('query', '')}",
        "dir": edge["dir"], "script": EXPORTER_SCRIPT}
    edge["exporter"] = exporter
    # Followed by ", on a port that is never published" in the generated README.
    how = (f"{exporter['service']} reads its status page ({page['module']}) on every scrape "
           f"and serves it as Prometheus metrics ({page['prefix']}_*); the page has its own "
           f"listener (:{STATUS_PORT})")
    return {"name": service, "path": "/metrics", "port": exporter["port"],
            "targets": [f"{exporter['service']}:{exporter['port']}"], "how": how,
            "comment": f"the {kind} {edge['label']}: {how}"}, exporter


def _exporter_workload(exporter: dict[str, Any], networks: tuple[str, ...]) -> Workload:
    """The edge's exporter: the app's Python image running the rendered stdlib-only script."""
    python = CATALOG["python"]
    script = f"{EXPORTER_DIR}/{EXPORTER_SCRIPT}"
    probe = (f"import urllib.request; "
             f"urllib.request.urlopen('http://127.0.0.1:{exporter['port']}/healthz', timeout=3)")
    return Workload(
        name=exporter["service"],
        node=exporter["service"],
        kind=EXPORTER_KIND,
        image=python.image,
        command=("python", script),
        mounts=(Mount(f"./{exporter['dir']}/{EXPORTER_SCRIPT}", script, read_only=True),),
        # The slim image has no curl or wget: Python is the client, as in the app's check.
        healthcheck=Healthcheck(("CMD", "python", "-c", probe), start_period="10s"),
        memory="32M",
        # The Python image's hardening: uid 10001 from the start, nothing to add.
        security=hardened("python", python.user),
        init=True,
        networks=networks,
        stop_grace_period="5s",
        labels=(("io.archgen.exporter-config", digest(exporter)),),
        comment=(f"Reads the {exporter['edge_kind']} {exporter['edge_label']}'s status page "
                 f"({exporter['status_url']}, on its unpublished listener) on every scrape "
                 f"and serves it to Prometheus as metrics on :{exporter['port']}, on the "
                 f"{exporter['edge_label']}'s network only.",),
        field_comments=(("labels", "The script is a mounted file, which no engine compares: "
                                   "this label changes with its inputs, so `up` recreates the "
                                   "exporter exactly when it changes."),),
    )


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
        comment=("Prometheus scrapes every app instance and the edge (itself or through its "
                 f"exporter); its UI and API are published on {UI_BIND} only.",),
        field_comments=(("labels", "The config is a mounted file, which no engine compares: "
                                   "this label changes with it, so `up` recreates Prometheus "
                                   "exactly when its config changes."),),
    )
