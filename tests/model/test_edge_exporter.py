"""The edge's exporter sidecar in the model: nginx and httpd edges are scraped through it.

nginx (`stub_status`) and httpd (`mod_status`) serve a status page on a listener that is
never published; `<edge>-exporter` reads it and is the edge's scrape job. It exists only
with `observability: [prometheus]`, only for those two kinds, and is as locked down as
every other workload.
"""

from __future__ import annotations

from typing import Any

import pytest

from archgen.catalog import CATALOG
from archgen.model import Architecture, resolve_data
from archgen.model.observability import STATUS_PORT
from archgen.spec import spec_from_data

SPECS: dict[str, dict[str, Any]] = {
    "mvc-nginx": {"name": "shop", "architecture": "mvc", "database": {"engine": "postgres"}},
    "mvc-httpd": {"name": "shop", "architecture": "mvc", "proxy": {"kind": "httpd"}},
    "scaled-nginx": {"name": "shop", "architecture": "scaled", "app": {"replicas": 2},
                     "load_balancer": {"kind": "nginx"}},
    "microservices-nginx": {"name": "shop", "architecture": "microservices",
                            "gateway": {"kind": "nginx"}, "services": [{"name": "orders"}]},
}
# What each kind's exporter serves: its port and metric prefix (the well-known exporters').
EXPECTED = {"nginx": (9113, "nginx", "/stub_status"),
            "httpd": (9117, "apache", "/server-status?auto")}


def _model(spec: dict[str, Any], tools: list[str] | None = None) -> Architecture:
    return resolve_data(spec_from_data({**spec, "observability": tools or ["prometheus"]}).data)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_exporter_reads_the_edges_status_page_and_is_the_edges_job(name: str) -> None:
    model = _model(SPECS[name])
    edge = model.context["edge"]
    port, prefix, path = EXPECTED[edge["kind"]]
    exporter = f"{edge['service']}-exporter"
    assert edge["status"]["port"] == STATUS_PORT
    assert edge["exporter"]["status_url"] == f"http://{edge['service']}:{STATUS_PORT}{path}"
    prometheus = model.context["observability"]["prometheus"]
    (job,) = [j for j in prometheus["jobs"] if j["name"] == edge["service"]]
    assert job["targets"] == [f"{exporter}:{port}"] and job["path"] == "/metrics"
    assert prometheus["edge"]["scraped"] is True
    assert prometheus["edge"]["exporter"] == exporter
    assert prometheus["edge"]["up_metric"] == f"{prefix}_up"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_exporter_is_internal_small_and_hardened(name: str) -> None:
    model = _model(SPECS[name])
    edge = model.context["edge"]
    by_name = {w.name: w for w in model.workloads}
    exporter = by_name[f"{edge['service']}-exporter"]
    python = CATALOG["python"]
    assert exporter.image == python.image
    assert exporter.ports == ()  # never published: only the edge publishes
    assert exporter.networks == by_name[edge["service"]].networks
    assert exporter.memory == "32M"
    security = exporter.security
    assert security.user == python.user and security.read_only
    assert security.cap_drop == ("ALL",) and security.cap_add == ()
    assert security.no_new_privileges
    # A probe with the image's own Python (the slim image has no curl or wget).
    assert exporter.healthcheck is not None
    assert exporter.healthcheck.test[:3] == ("CMD", "python", "-c")
    assert f"127.0.0.1:{EXPECTED[edge['kind']][0]}/healthz" in exporter.healthcheck.test[3]
    (mount,) = exporter.mounts
    assert mount.source == f"./{edge['dir']}/edge_exporter.py" and mount.read_only
    assert exporter.command == ("python", mount.target)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_graph_draws_prometheus_to_the_exporter_to_the_edge(name: str) -> None:
    model = _model(SPECS[name])
    edge = model.context["edge"]["service"]
    exporter = f"{edge}-exporter"
    port = EXPECTED[model.context["edge"]["kind"]][0]
    node = model.node(exporter)
    assert node.services == (exporter,) and node.tier == "platform"
    pairs = {(e.source, e.target, e.port) for e in model.edges}
    assert ("prometheus", exporter, port) in pairs
    assert (exporter, edge, STATUS_PORT) in pairs
    assert not any(s == "prometheus" and t == edge for s, t, _ in pairs)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_edge_is_recreated_when_its_status_listener_appears(name: str) -> None:
    def label(model: Architecture) -> str:
        edge = next(w for w in model.workloads if w.name == model.context["edge"]["service"])
        return dict(edge.labels)["io.archgen.edge-config"]

    assert label(_model(SPECS[name])) != label(_model(SPECS[name], ["jaeger"]))


@pytest.mark.parametrize("name", sorted(SPECS))
def test_without_prometheus_there_is_no_exporter_and_no_status_listener(name: str) -> None:
    model = _model(SPECS[name], ["jaeger"])
    assert not any(w.name.endswith("-exporter") for w in model.workloads)
    assert "status" not in model.context["edge"] and "exporter" not in model.context["edge"]


@pytest.mark.parametrize("kind", ["envoy", "haproxy"])
def test_edges_with_their_own_metrics_get_no_exporter(kind: str) -> None:
    model = _model({"name": "shop", "architecture": "mvc", "proxy": {"kind": kind}})
    assert not any(w.name.endswith("-exporter") for w in model.workloads)
    assert model.context["observability"]["prometheus"]["edge"]["up_metric"] is None


def test_the_exporter_is_neither_traced_nor_an_app_dashboard() -> None:
    """Jaeger and Grafana pick up app workloads only: the exporter is not one."""
    model = _model(SPECS["mvc-nginx"], ["prometheus", "jaeger", "grafana"])
    exporter = next(w for w in model.workloads if w.name == "proxy-exporter")
    assert "OTEL_SERVICE_NAME" not in dict(exporter.environment)
    assert model.context["observability"]["jaeger"]["services"] == ["app"]
    assert [d["node"] for d in model.context["observability"]["grafana"]["dashboards"]] == ["app"]
    jobs = [j["name"] for j in model.context["observability"]["prometheus"]["jobs"]]
    assert jobs == ["app", "proxy"]
