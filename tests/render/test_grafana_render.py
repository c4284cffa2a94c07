"""`observability: [grafana]`: Grafana's provisioning and dashboards, checked statically.

Grafana itself cannot run here: no registry is reachable and no stand-in can be built
(Debian has no Grafana package). So the rendered files are checked without it: the data
sources are exactly the tools listed, there is one dashboard per app node whose queries
use the app's own metrics and Prometheus' job names, and every dashboard JSON is checked
against Grafana's own dashboard schema: the TypeScript types `@grafana/schema` (npm, the
version of the pinned image) generates from Grafana's CUE schema, compiled with `tsc`
(strict: a wrong type or an unknown key fails). Without npm that check is skipped, saying
so; the structural checks still run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.catalog import CATALOG
from archgen.model import resolve_data
from archgen.render import render_project
from tests.helpers import unavailable

SCHEMA_PACKAGE = "@grafana/schema@" + CATALOG["grafana"].image.rsplit(":", 1)[1]
TYPESCRIPT = "typescript@5.6.3"
SPECS: dict[str, dict[str, Any]] = {
    "mvc": {"name": "shop", "architecture": "mvc", "database": {"engine": "postgres"},
            "observability": ["prometheus", "grafana"]},
    "scaled": {"name": "shop", "architecture": "scaled", "app": {"replicas": 2},
               "load_balancer": {"kind": "envoy"},
               "observability": ["prometheus", "jaeger", "grafana"]},
    "microservices": {
        "name": "shop", "architecture": "microservices",
        "services": [{"name": "orders"}, {"name": "payments", "database": "mongodb"}],
        "sagas": [{"name": "buy", "steps": [{"service": "orders", "action": "create"},
                                            {"service": "payments", "action": "charge"}]}],
        "observability": ["prometheus", "jaeger", "grafana"]},
    "traces-only": {"name": "shop", "architecture": "mvc", "observability": ["jaeger", "grafana"]},
}
# What the app's metrics module (blueprints/_parts/app/.../metrics.py.jinja) exports; a
# microservice adds its bus and outbox metrics, the orchestrator its saga outcomes.
APP_METRICS = {"http_requests_total", "http_request_errors_total",
               "http_request_duration_seconds_bucket"}
BUS_METRICS = {"bus_message_lag_seconds_bucket", "outbox_pending"}
SAGA_METRICS = {"saga_outcomes_total"}
HTTP_PANELS = ["Request rate", "Error ratio (5xx)", "Latency p95"]
PANELS = {"app": HTTP_PANELS, "service": [*HTTP_PANELS, "Bus lag p95", "Outbox pending"],
          "orchestrator": [*HTTP_PANELS, "Saga outcomes", "Bus lag p95", "Outbox pending"]}
METRICS = {"app": APP_METRICS, "service": APP_METRICS | BUS_METRICS,
           "orchestrator": APP_METRICS | BUS_METRICS | SAGA_METRICS}


@pytest.fixture(scope="module", autouse=True)
def _say_grafana_does_not_run(request: pytest.FixtureRequest) -> None:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line("NOTE: Grafana itself cannot run here (no grafana/grafana "
                                "image can be pulled or built): its provisioning and dashboards are "
                                "checked statically, against Grafana's dashboard schema "
                                "(@grafana/schema).")


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("grafana")
    rendered = {}
    for name, spec in SPECS.items():
        rendered[name] = root / name
        render_project(spec, rendered[name])
    return rendered


def _compose(project: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((project / "compose.yaml").read_text()))


@pytest.mark.parametrize("name", list(SPECS))
def test_grafana_is_published_on_loopback_with_its_password_in_a_secret_file(
        projects: dict[str, Path], name: str) -> None:
    project = projects[name]
    compose = _compose(project)
    grafana = compose["services"]["grafana"]
    assert grafana["image"] == CATALOG["grafana"].image
    assert grafana["ports"] == ["127.0.0.1:3000:3000"]
    environment = grafana["environment"]
    assert environment["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment
    assert grafana["secrets"] == ["grafana_admin_password"]
    assert compose["secrets"]["grafana_admin_password"]["file"] == "./secrets/grafana_admin_password"
    password = (project / "secrets" / "grafana_admin_password").read_text().strip()
    assert len(password) >= 32 and password not in (project / "compose.yaml").read_text()
    assert grafana["cap_drop"] == ["ALL"] and grafana["user"] == "472"
    assert grafana["healthcheck"]["test"][:2] == ["CMD", "curl"]  # the image has curl


@pytest.mark.parametrize("name", list(SPECS))
def test_the_data_sources_are_exactly_the_tools_listed(projects: dict[str, Path],
                                                       name: str) -> None:
    tools = set(SPECS[name]["observability"]) - {"grafana"}
    sources = yaml.safe_load((projects[name] / "grafana/provisioning/datasources/"
                              "datasources.yml").read_text())["datasources"]
    assert {s["type"] for s in sources} == tools
    urls = {s["type"]: s["url"] for s in sources}
    assert urls.get("prometheus", "http://prometheus:9090") == "http://prometheus:9090"
    assert urls.get("jaeger", "http://jaeger:16686") == "http://jaeger:16686"
    assert sum(bool(s["isDefault"]) for s in sources) == 1
    grafana_networks = set(_compose(projects[name])["services"]["grafana"]["networks"])
    for tool in tools:  # Grafana reaches each data source
        assert grafana_networks & set(_compose(projects[name])["services"][tool]["networks"])


@pytest.mark.parametrize("name", list(SPECS))
def test_one_dashboard_per_app_node_from_the_apps_own_metrics(projects: dict[str, Path],
                                                              name: str) -> None:
    folder = projects[name] / "grafana" / "dashboards"
    model = resolve_data(SPECS[name])
    roles = {w.node: dict(w.environment).get("APP_ROLE", "app")
             for w in model.workloads if w.kind == "python" and not w.job}
    nodes = set(roles)
    if name == "microservices":
        assert roles == {"orders": "service", "payments": "service", "sagas": "orchestrator"}
    if "prometheus" not in SPECS[name]["observability"]:
        assert not folder.exists()  # dashboards need Prometheus
        return
    assert {p.name for p in folder.iterdir()} == {f"{node}.json" for node in nodes}
    jobs = {job["job_name"] for job in yaml.safe_load(
        (projects[name] / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]}
    for node in nodes:
        dashboard = json.loads((folder / f"{node}.json").read_text())
        titles = [p["title"] for p in dashboard["panels"]]
        assert titles == PANELS[roles[node]]
        expressions = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        used = set(re.findall(r"[a-z_]+(?=\{)", " ".join(expressions)))
        assert used == METRICS[roles[node]], used
        assert all(f'job="{node}"' in e for e in expressions) and node in jobs
        by_title = dict(zip(titles, expressions, strict=True))
        assert by_title["Latency p95"].startswith("histogram_quantile(0.95")
        if roles[node] != "app":
            assert by_title["Bus lag p95"].startswith("histogram_quantile(0.95, sum by (le, topic)")
        if roles[node] == "orchestrator":
            assert by_title["Saga outcomes"].startswith("sum by (outcome) (rate(saga_outcomes_total")
        places = {(p["gridPos"]["x"], p["gridPos"]["y"]) for p in dashboard["panels"]}
        assert len(places) == len(titles)  # no two panels on top of each other


def _tsc(cache: Path) -> Path:
    """`tsc` with @grafana/schema beside it, installed once from npm into `cache`."""
    tsc = cache / "node_modules" / ".bin" / "tsc"
    if not tsc.is_file():
        if shutil.which("npm") is None:
            unavailable("npm is not installed: Grafana's dashboard schema cannot be fetched")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                               "--silent", SCHEMA_PACKAGE, TYPESCRIPT],
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0 or not tsc.is_file():
            unavailable(f"npm could not install {SCHEMA_PACKAGE}: {done.stderr[-500:]}")
    return tsc


def test_every_dashboard_matches_grafanas_dashboard_schema(projects: dict[str, Path]) -> None:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = base / "archgen-tests" / SCHEMA_PACKAGE.replace("/", "-").replace("@", "")
    tsc = _tsc(cache)
    files = []
    for name, project in projects.items():
        for dashboard in sorted((project / "grafana" / "dashboards").glob("*.json")):
            source = cache / f"{name}-{dashboard.stem}.ts"
            source.write_text('import type { Dashboard } from "@grafana/schema";\n'
                              f"export const dashboard: Dashboard = {dashboard.read_text()};\n")
            files.append(source.name)
    assert len(files) == 1 + 1 + 3  # mvc app; scaled app (2 replicas, one node); 3 services
    (cache / "tsconfig.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "moduleResolution": "node",
                            "module": "esnext", "target": "es2020", "skipLibCheck": True},
        "files": files}))
    done = subprocess.run([str(tsc), "-p", str(cache)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_wrong_dashboard_is_caught_by_the_schema_check(tmp_path: Path) -> None:
    """The check is not vacuous: an unknown key and a wrong type both fail."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = base / "archgen-tests" / SCHEMA_PACKAGE.replace("/", "-").replace("@", "")
    tsc = _tsc(cache)
    source = cache / "wrong.ts"
    source.write_text('import type { Dashboard } from "@grafana/schema";\n'
                      'export const a: Dashboard = {"title": "t", "schemaVersion": "39"};\n'
                      'export const b: Dashboard = {"title": "t", "schemaVersion": 39, "bogus": 1};\n')
    (cache / "tsconfig.wrong.json").write_text(json.dumps({
        "compilerOptions": {"strict": True, "noEmit": True, "moduleResolution": "node",
                            "module": "esnext", "target": "es2020", "skipLibCheck": True},
        "files": ["wrong.ts"]}))
    done = subprocess.run([str(tsc), "-p", str(cache / "tsconfig.wrong.json")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0
    assert "TS2322" in done.stdout and "'\"bogus\"' does not exist" in done.stdout, done.stdout


def test_grafana_without_prometheus_has_no_dashboards_in_the_readme(
        projects: dict[str, Path]) -> None:
    readme = (projects["traces-only"] / "README.md").read_text()
    assert "no dashboards: they need Prometheus" in readme
    assert "| Grafana (`grafana`) | http://127.0.0.1:3000 |" in readme


def test_every_metric_a_dashboard_reads_is_one_the_app_defines() -> None:
    source = (Path(__file__).parents[2] / "blueprints/_parts/app/template/src/app/"
              "metrics.py.jinja").read_text()
    for metric in APP_METRICS | BUS_METRICS | SAGA_METRICS:
        base = re.sub(r"_(total|bucket)$", "", metric)
        assert f'"{base}"' in source, metric
