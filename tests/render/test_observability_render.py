"""`observability: [prometheus]`: Prometheus is rendered from the model in every architecture.

Its scrape config lists every app or service instance and the edge (itself where its
kind exports Prometheus metrics, else its status-page exporter), the alerting rules load,
the container is hardened and published on 127.0.0.1 only, and the edge configs with
their metrics or status listener pass the real binaries' checks. Prometheus' own
`promtool` (in the stand-in image) checks the config and rules under the `docker` marker.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.model import resolve_data
from archgen.render import render_project
from tests.helpers import unavailable
from tests.render.test_proxy_configs import Rendered, _check, _for_this_host, _require_binary

PROMETHEUS = {"observability": ["prometheus"]}
SPECS: dict[str, dict[str, Any]] = {
    "mvc-nginx": {"name": "shop", "architecture": "mvc", "database": {"engine": "postgres"}},
    "mvc-httpd": {"name": "shop", "architecture": "mvc", "proxy": {"kind": "httpd"}},
    "mvc-envoy": {"name": "shop", "architecture": "mvc", "proxy": {"kind": "envoy"}},
    "mvc-haproxy": {"name": "shop", "architecture": "mvc", "proxy": {"kind": "haproxy"}},
    "scaled-haproxy": {"name": "shop", "architecture": "scaled", "app": {"replicas": 2},
                       "load_balancer": {"kind": "haproxy"}},
    "scaled-envoy": {"name": "shop", "architecture": "scaled", "app": {"replicas": 3},
                     "load_balancer": {"kind": "envoy"}},
    "scaled-nginx": {"name": "shop", "architecture": "scaled", "app": {"replicas": 2},
                     "load_balancer": {"kind": "nginx"}},
    "microservices-envoy": {
        "name": "shop", "architecture": "microservices",
        "services": [{"name": "orders"}, {"name": "payments", "database": "mongodb"}],
        "sagas": [{"name": "buy", "steps": [{"service": "orders", "action": "create"},
                                            {"service": "payments", "action": "charge"}]}]},
    "microservices-nginx": {"name": "shop", "architecture": "microservices",
                            "gateway": {"kind": "nginx"}, "services": [{"name": "orders"}]},
}
NATIVE = {"envoy": ("/stats/prometheus", 9902), "haproxy": ("/metrics", 8405)}
# The kinds scraped through `<edge>-exporter`: its port and the metric that says the page answered.
EXPORTED = {"nginx": (9113, "nginx_up"), "httpd": (9117, "apache_up")}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("observability")
    rendered = {}
    for name, spec in SPECS.items():
        (root / name).mkdir()
        rendered[name] = root / name / "shop"
        render_project({**spec, **PROMETHEUS}, rendered[name])
    return rendered


def _edge_kind(spec: dict[str, Any]) -> str:
    for key in ("proxy", "load_balancer", "gateway"):
        if key in spec:
            return str(spec[key]["kind"])
    return {"mvc": "nginx", "scaled": "haproxy", "microservices": "envoy"}[spec["architecture"]]


@pytest.mark.parametrize("name", SPECS)
def test_every_instance_is_a_target_and_the_edge_where_it_exports(projects: dict[str, Path],
                                                                   name: str) -> None:
    spec = SPECS[name]
    config = yaml.safe_load((projects[name] / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {t for job in jobs.values() if job["job_name"] != "prometheus"
               for group in job["static_configs"] for t in group["targets"]}
    model = resolve_data({**spec, **PROMETHEUS})
    apps = {f"{w.name}:8000" for w in model.workloads if w.kind == "python" and not w.job}
    kind = _edge_kind(spec)
    edge = model.context["edge"]["service"]
    if kind in NATIVE:
        path, port = NATIVE[kind]
        assert jobs[edge]["metrics_path"] == path
        apps.add(f"{edge}:{port}")
    else:
        port = EXPORTED[kind][0]
        assert jobs[edge]["metrics_path"] == "/metrics"
        apps.add(f"{edge}-exporter:{port}")
    assert "not scraped" not in (projects[name] / "prometheus" / "prometheus.yml").read_text()
    assert targets == apps
    if spec["architecture"] == "scaled":  # each replica is its own target
        assert sorted(jobs["app"]["static_configs"][0]["targets"]) == [
            f"app-{n}:8000" for n in range(1, spec["app"]["replicas"] + 1)]
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


@pytest.mark.parametrize("name", SPECS)
def test_prometheus_is_hardened_and_published_on_loopback_only(projects: dict[str, Path],
                                                               name: str) -> None:
    compose = yaml.safe_load((projects[name] / "compose.yaml").read_text())
    service = compose["services"]["prometheus"]
    assert service["ports"] == ["127.0.0.1:9090:9090"]
    assert service["user"] == "65534"
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "cap_add" not in service
    assert service["security_opt"] == ["no-new-privileges:true"]
    assert "prometheus-data:/prometheus" in service["volumes"]
    assert service["healthcheck"]["test"][:2] == ["CMD", "wget"]
    assert "/-/healthy" in service["healthcheck"]["test"][-1]
    assert service["networks"] == ["frontend"]  # every target is there; no data network
    published = [s for s, body in compose["services"].items() if body.get("ports")]
    assert sorted(published) == sorted(["prometheus", SPECS_EDGE[name]])
    exporters = [s for s in compose["services"] if s.endswith("-exporter")]
    assert exporters == ([f"{SPECS_EDGE[name]}-exporter"]
                         if _edge_kind(SPECS[name]) in EXPORTED else [])
    readme = (projects[name] / "README.md").read_text()
    assert "## Metrics" in readme and "http://127.0.0.1:9090" in readme


SPECS_EDGE = {name: {"mvc": "proxy", "scaled": "lb", "microservices": "gateway"}[
    spec["architecture"]] for name, spec in SPECS.items()}


def test_the_ui_port_comes_from_the_spec(tmp_path: Path) -> None:
    render_project({**SPECS["mvc-nginx"], **PROMETHEUS, "ui_ports": {"prometheus": 9191}},
                   tmp_path / "shop")
    compose = yaml.safe_load((tmp_path / "shop" / "compose.yaml").read_text())
    assert compose["services"]["prometheus"]["ports"] == ["127.0.0.1:9191:9090"]


def test_without_observability_nothing_of_prometheus_renders(tmp_path: Path) -> None:
    render_project(SPECS["mvc-nginx"], tmp_path / "shop")
    assert not (tmp_path / "shop" / "prometheus").exists()
    assert "prometheus" not in yaml.safe_load((tmp_path / "shop" / "compose.yaml").read_text())[
        "services"]


@pytest.mark.parametrize("name", SPECS)
def test_the_rules_hold_a_target_down_and_an_error_ratio_alert(projects: dict[str, Path],
                                                              name: str) -> None:
    rules = yaml.safe_load((projects[name] / "prometheus" / "alerts.yml").read_text())
    alerts = {r["alert"]: r for group in rules["groups"] for r in group["rules"]}
    kind = _edge_kind(SPECS[name])
    # Behind an exporter, the edge is also down when the exporter cannot read its status page.
    assert alerts["TargetDown"]["expr"] == (
        f"up == 0 or {EXPORTED[kind][1]} == 0" if kind in EXPORTED else "up == 0")
    assert 'status=~"5.."' in alerts["HighErrorRatio"]["expr"]


@pytest.mark.parametrize("name", ["mvc-envoy", "mvc-haproxy", "scaled-haproxy", "scaled-envoy",
                                  "mvc-nginx", "mvc-httpd", "microservices-nginx"])
def test_the_edge_with_its_metrics_listener_passes_its_binarys_check(
        projects: dict[str, Path], name: str, tmp_path: Path) -> None:
    kind = _edge_kind(SPECS[name])
    folder = SPECS_EDGE[name]
    config_name = {"envoy": "envoy.yaml", "haproxy": "haproxy.cfg", "nginx": "nginx.conf",
                   "httpd": "httpd.conf"}[kind]
    project = projects[name]
    rendered = Rendered(kind, project, project / folder / config_name, 8080, 8443)
    if folder != "proxy":  # _for_this_host reads TLS from proxy/tls
        (project / "proxy").mkdir(exist_ok=True)
        if not (project / "proxy" / "tls").exists():
            (project / "proxy" / "tls").symlink_to(project / folder / "tls")
    binary = _require_binary(kind)
    if kind == "haproxy" and folder == "lb":  # replicas by name: only the TLS paths change
        text = rendered.config.read_text().replace("/etc/archgen/tls/", f"{project}/lb/tls/")
        if os.geteuid() != 0:
            text = re.sub(r"^\s*(user|group) haproxy$", "", text, flags=re.MULTILINE)
        text = text.replace("init-addr libc,none", "init-addr none")  # no Docker DNS here
        config = tmp_path / config_name
        config.write_text(text)
    else:
        config = _for_this_host(rendered, tmp_path)
    text = config.read_text()
    if kind == "haproxy":
        assert "use-service prometheus-exporter" in text
        done = _check([binary, "-dW", "-c", "-f", str(config)])
        assert done.returncode == 0, done.stdout + done.stderr
    elif kind == "nginx":
        assert re.search(r"listen 8081;.*location = /stub_status \{\s*stub_status;", text, re.S)
        done = _check([binary, "-t", "-c", str(config), "-g", f"pid {tmp_path}/nginx.pid;"])
        assert done.returncode == 0, done.stderr
        assert "[warn]" not in done.stderr and "[emerg]" not in done.stderr, done.stderr
    elif kind == "httpd":
        assert "SetHandler server-status" in text and "ExtendedStatus On" in text
        done = _check([binary, "-t", "-d", str(tmp_path / "httpd-root"), "-f", str(config)])
        assert done.returncode == 0, done.stderr
        assert ":warn]" not in done.stderr, done.stderr
    else:
        assert "name: envoy_admin" in text
        done = _check([binary, "--mode", "validate", "-c", str(config), "--log-level", "warn"])
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.docker
@pytest.mark.parametrize("name", ["mvc-nginx", "scaled-haproxy", "microservices-envoy"])
def test_promtool_accepts_the_config_and_the_rules(projects: dict[str, Path], name: str) -> None:
    import shutil

    from archgen.catalog import CATALOG

    if shutil.which("docker") is None:
        unavailable("docker is not installed")
    folder = projects[name] / "prometheus"
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "promtool",
         "-v", f"{folder}:/etc/prometheus:ro", CATALOG["prometheus"].image,
         "check", "config", "/etc/prometheus/prometheus.yml"],
        capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 and "Unable to find image" in done.stderr:
        unavailable(f"the stand-in image {CATALOG['prometheus'].image} is not built")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 2 rules found" in done.stdout + done.stderr
