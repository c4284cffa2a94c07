"""Grafana added to a resolved architecture: data sources and one dashboard per app node.

`observability: [grafana]` adds one workload (`grafana`), provisioned from files the
`observability` part renders (`grafana/provisioning/…`): a data source for Prometheus
and one for Jaeger, each only when listed, and a dashboard provider reading
`grafana/dashboards/`, where the `dashboard` part writes one JSON file per app node
(request rate, error ratio and p95 latency from the app's own metrics; a microservice
adds bus lag p95 and outbox pending, the orchestrator saga outcomes too; with Prometheus
only). The admin password is a secret file (`GF_SECURITY_ADMIN_PASSWORD__FILE`); the UI
is published on 127.0.0.1 only, at `ui_ports.grafana`. No Grafana image can be built
here: the render is checked statically, `archgen up` says the image is missing.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from archgen.catalog import CATALOG
from archgen.model import uis
from archgen.model.common import digest, hardened
from archgen.model.graph import Architecture, Edge, Node, Port
from archgen.model.observability import PROMETHEUS, networks_reaching
from archgen.model.uis import UI_BIND, add_ui
from archgen.model.workload import Mount, PublishedPort, Workload
from archgen.variables import secret

GRAFANA = "grafana"
ADMIN_PASSWORD = secret("GRAFANA_ADMIN_PASSWORD", "Grafana's admin password (user admin).")
PROVISIONING = "/etc/grafana/provisioning"
DASHBOARDS = "/etc/grafana/dashboards"
RATE_WINDOW = "5m"


def with_grafana(architecture: Architecture, spec: dict[str, Any]) -> Architecture:
    """`architecture` with Grafana, its data sources and a dashboard per app node."""
    entry = CATALOG[GRAFANA]
    observability = architecture.context["observability"]
    ui_port = uis.ui_port(spec, GRAFANA)
    sources: list[dict[str, Any]] = []
    if "prometheus" in observability:
        sources.append({"name": "Prometheus", "uid": PROMETHEUS, "type": "prometheus",
                        "url": f"http://{PROMETHEUS}:{observability['prometheus']['port']}",
                        "default": True})
    if "jaeger" in observability:
        sources.append({"name": "Jaeger", "uid": "jaeger", "type": "jaeger",
                        "url": f"http://jaeger:{observability['jaeger']['port']}",
                        "default": not sources})
    # The role of each app node (APP_ROLE: service or orchestrator; none for an MVC app).
    roles = {w.node: str(dict(w.environment).get("APP_ROLE") or "app")
             for w in architecture.workloads if w.kind == "python" and not w.job}
    dashboards = ([{"file": f"{node}.json", "node": node, "title": f"{node} ({architecture.context['name']})",
                    "json": dashboard_json(node, architecture.context["name"], roles[node])}
                   for node in sorted(roles)] if "prometheus" in observability else [])
    grafana: dict[str, Any] = {"service": GRAFANA, "image": entry.image, "port": entry.main_port,
               "ui_port": ui_port, "bind": UI_BIND, "url": f"http://{UI_BIND}:{ui_port}",
               "sources": sources, "dashboards": [{k: d[k] for k in ("file", "node", "title")}
                                                  for d in dashboards],
               "admin_user": "admin", "admin_password_file": ADMIN_PASSWORD.file,
               "provisioning": PROVISIONING, "dashboards_path": DASHBOARDS}
    observability["grafana"] = grafana
    add_ui(architecture, "Grafana", GRAFANA, ui_port, GRAFANA,
           f"dashboards (user admin, password in {ADMIN_PASSWORD.file})")
    networks = networks_reaching([s["uid"] for s in sources], architecture.workloads)
    workloads = (*architecture.workloads, _grafana_workload(grafana, dashboards, networks))
    nodes = (*architecture.nodes,
             Node(GRAFANA, GRAFANA, "dashboards", "platform", GRAFANA, entry.image,
                  (Port("http", entry.main_port, ui_port, UI_BIND),)))
    edges = (*architecture.edges,
             *(Edge(GRAFANA, s["uid"], "HTTP", int(s["url"].rsplit(":", 1)[1])) for s in sources))
    instances = (*architecture.instances,
                 *(("dashboard", "grafana/dashboards", {"dashboard": d}) for d in dashboards))
    return replace(architecture, nodes=nodes, edges=edges, workloads=workloads,
                   instances=instances)


def panel_queries(node: str, role: str = "app") -> list[tuple[str, str, str, str]]:
    """(title, unit, PromQL, legend) of each panel of `node`'s dashboard.

    Requests for every app; bus lag and outbox for a service or the orchestrator
    (metrics.py exports them for both); saga outcomes for the orchestrator, which ends sagas.
    """
    job = f'job="{node}"'
    window = f"[{RATE_WINDOW}]"
    queries = [
        ("Request rate", "reqps",
         f"sum by (route) (rate(http_requests_total{{{job}}}{window}))", "{{route}}"),
        ("Error ratio (5xx)", "percentunit",
         f"sum(rate(http_request_errors_total{{{job}}}{window})) / "
         f"sum(rate(http_requests_total{{{job}}}{window}))", "5xx / all"),
        ("Latency p95", "s",
         "histogram_quantile(0.95, sum by (le, route) "
         f"(rate(http_request_duration_seconds_bucket{{{job}}}{window})))", "{{route}}"),
    ]
    if role == "orchestrator":
        queries.append(("Saga outcomes", "ops",
                        f"sum by (outcome) (rate(saga_outcomes_total{{{job}}}{window}))",
                        "{{outcome}}"))
    if role in ("service", "orchestrator"):
        queries += [
            ("Bus lag p95", "s",
             "histogram_quantile(0.95, sum by (le, topic) "
             f"(rate(bus_message_lag_seconds_bucket{{{job}}}{window})))", "{{topic}}"),
            ("Outbox pending", "short", f"sum(outbox_pending{{{job}}})", "pending"),
        ]
    return queries


def dashboard_json(node: str, project: str, role: str = "app") -> str:
    """The dashboard of one app node, as Grafana's dashboard JSON (schemaVersion 39)."""
    panels = [_panel(index + 1, title, unit, 12 * (index % 2), expr, legend, y=8 * (index // 2))
              for index, (title, unit, expr, legend) in enumerate(panel_queries(node, role))]
    dashboard = {
        "uid": f"{project}-{node}"[:40],
        "title": f"{node} ({project})",
        "description": (f"Requests, errors and latency of {node}"
                        f"{'' if role == 'app' else ', its bus lag and outbox'}"
                        f"{', saga outcomes' if role == 'orchestrator' else ''}, from its /metrics"),
        "tags": ["archgen", project],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-1h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "refresh": "30s",
        "fiscalYearStartMonth": 0,
        "links": [],
        "annotations": {"list": []},
        "templating": {"list": []},
        "panels": panels,
    }
    return json.dumps(dashboard, indent=2, sort_keys=True)


def _panel(panel_id: int, title: str, unit: str, x: int, expr: str, legend: str,
           y: int = 0) -> dict[str, Any]:
    source = {"type": "prometheus", "uid": PROMETHEUS}
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": source,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
                    "tooltip": {"mode": "multi", "sort": "none"}},
        "targets": [{"refId": "A", "datasource": source, "expr": expr, "legendFormat": legend}],
    }


def _grafana_workload(grafana: dict[str, Any], dashboards: list[dict[str, Any]],
                      networks: tuple[str, ...]) -> Workload:
    entry = CATALOG[GRAFANA]
    assert entry.data_path is not None and entry.healthcheck is not None
    mounts = [Mount(f"{GRAFANA}-data", entry.data_path),
              Mount("./grafana/provisioning/datasources", f"{PROVISIONING}/datasources",
                    read_only=True),
              Mount("./grafana/provisioning/dashboards", f"{PROVISIONING}/dashboards",
                    read_only=True)]
    if dashboards:
        mounts.append(Mount("./grafana/dashboards", DASHBOARDS, read_only=True))
    return Workload(
        name=GRAFANA,
        node=GRAFANA,
        kind=GRAFANA,
        image=entry.image,
        environment=(("GF_SECURITY_ADMIN_USER", grafana["admin_user"]),
                     ("GF_SECURITY_ADMIN_PASSWORD__FILE", ADMIN_PASSWORD),
                     ("GF_USERS_ALLOW_SIGN_UP", "false"),
                     ("GF_ANALYTICS_REPORTING_ENABLED", "false"),
                     ("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
                     ("GF_PLUGINS_PLUGIN_ADMIN_ENABLED", "false")),
        ports=(PublishedPort("http", entry.main_port, grafana["ui_port"], UI_BIND),),
        mounts=tuple(mounts),
        healthcheck=entry.healthcheck,
        memory="256M",
        security=hardened(GRAFANA, entry.user),
        networks=networks,
        stop_grace_period="30s",
        labels=(("io.archgen.grafana-config",
                 digest(grafana, [d["json"] for d in dashboards])),),
        stateful=True,
        comment=("Grafana, provisioned from grafana/ (data sources and dashboards); its UI is "
                 f"published on {UI_BIND} only. No image can be built here: `archgen up` needs "
                 "grafana/grafana from a registry.",),
        field_comments=(("labels", "The provisioning is mounted files, which no engine "
                                   "compares: this label changes with them, so `up` recreates "
                                   "Grafana exactly when they change."),),
    )
