"""End to end on a real Docker engine: Prometheus scrapes every app instance and the edge (its
own metrics, or nginx's stub_status through `proxy-exporter`), a request through the edge
shows in the app's and the edge's counters, /metrics and the status page are refused at
the edge, and the UI is published on 127.0.0.1 only; on microservices, a saga's outcome and
the bus lag of its command and reply."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archgen.catalog import CATALOG
from archgen.model import resolve_data
from tests.e2e.conftest import require_images
from tests.e2e.test_mvc_stack import _free_port, _status, archgen

pytestmark = pytest.mark.docker

STACKS: dict[str, dict[str, Any]] = {
    # nginx has no Prometheus output: its stub_status is scraped through proxy-exporter.
    "mvc-nginx": {"architecture": "mvc", "proxy": {"kind": "nginx"},
                  "database": {"engine": "postgres"}},
    # Two replicas, each its own target, and HAProxy's own exporter.
    "scaled-haproxy": {"architecture": "scaled", "load_balancer": {"kind": "haproxy"},
                       "app": {"replicas": 2}, "database": {"engine": "postgres", "replicas": 2},
                       "cache": {"sentinel": False}},
}
WAIT_S = 120  # a few scrape intervals (15 s) past the first successful scrape


def _poll(what: str, probe: Any) -> Any:
    deadline = time.monotonic() + WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except httpx.HTTPError as error:
            last = error
        else:
            if last and not isinstance(last, Exception) and last[0]:
                return last[1]
        time.sleep(2)
    raise AssertionError(f"{what} not within {WAIT_S}s; last: {last}")


def _query(prometheus: str, expression: str) -> tuple[bool, float]:
    """(whether the expression has a result, its first value) from Prometheus' query API."""
    result = httpx.get(f"{prometheus}/api/v1/query", timeout=10,
                       params={"query": expression}).json()["data"]["result"]
    return bool(result), float(result[0]["value"][1]) if result else 0.0


def _every_target_up(prometheus: str, expected: set[str]) -> dict[str, str]:
    """Poll Prometheus until exactly the `expected` instances are scraped and all are up."""

    def targets() -> tuple[bool, dict[str, str]]:
        active = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"][
            "activeTargets"]
        health = {t["labels"]["instance"]: t["health"] for t in active}
        return set(health) == expected and all(h == "up" for h in health.values()), health

    return dict(_poll("every target up", targets))


@pytest.mark.parametrize("stack", list(STACKS))
def test_prometheus_scrapes_every_target_and_counts_requests_through_the_edge(
        stack: str, stack_dir: Path, tmp_path: Path, docker_client: Any) -> None:
    shape = STACKS[stack]
    edge_kind = next(shape[k]["kind"] for k in ("proxy", "load_balancer") if k in shape)
    require_images(docker_client, [CATALOG[k].image for k in (
        edge_kind, "postgres", "redis", "python", "prometheus")])
    name = f"e2e-obs-{stack}-{secrets.token_hex(3)}"
    http_port, https_port, ui_port = _free_port(), _free_port(), _free_port()
    edge_key = "proxy" if "proxy" in shape else "load_balancer"
    spec = {**shape, "name": name, "observability": ["prometheus"],
            "ui_ports": {"prometheus": ui_port},
            edge_key: {**shape[edge_key], "http_port": http_port, "https_port": https_port}}
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    archgen("new", spec_file, "-o", stack_dir)
    archgen("up", "--wait", "--timeout", "600", cwd=stack_dir)

    # `archgen status` lists Prometheus with its port, published on 127.0.0.1 only.
    rows = _status(stack_dir)
    row = rows[f"{name}-prometheus-1"]
    assert any(f"127.0.0.1:{ui_port}" in port for port in row["ports"]), row
    bindings = docker_client.containers.get(f"{name}-prometheus-1").attrs[
        "NetworkSettings"]["Ports"]["9090/tcp"]
    assert [b["HostIp"] for b in bindings] == ["127.0.0.1"], bindings

    model = resolve_data(spec)
    expected = {f"{w.name}:8000" for w in model.workloads if w.kind == "python" and not w.job}
    expected.add("localhost:9090")
    edge_service = model.context["edge"]["service"]
    edge_target = {"haproxy": f"{edge_service}:8405",
                   "nginx": f"{edge_service}-exporter:9113"}[edge_kind]
    expected.add(edge_target)
    prometheus = f"http://127.0.0.1:{ui_port}"

    health = _every_target_up(prometheus, expected)
    assert set(health) == expected
    active = httpx.get(f"{prometheus}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    assert {t["labels"]["instance"]: t["labels"]["job"] for t in active}[edge_target] == edge_service
    edge_requests = f'sum(nginx_http_requests_total{{job="{edge_service}"}})'
    before = 0.0
    if edge_kind == "nginx":
        before = _poll("the edge's first scrape", lambda: _query(prometheus, edge_requests))

    with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False,
                      timeout=30) as edge:
        for _ in range(6):
            assert edge.get("/api/items").status_code == 200
        assert edge.post("/api/items", json={"name": "lamp"}).status_code == 201
        refused = edge.get("/metrics")
        assert refused.status_code == 404, refused.text
        assert "http_requests_total" not in refused.text
        if edge_kind == "nginx":
            # The status page lives on an unpublished listener: through HTTPS it is a path
            # like any other, which the app does not know.
            status = edge.get("/stub_status")
            assert status.status_code in (403, 404), status.text
            assert "Active connections" not in status.text

    def requests_counted() -> tuple[bool, float]:
        value = _query(prometheus, 'sum(http_requests_total{route="/api/items"})')[1]
        return value >= 7, value

    assert _poll("the requests through the edge counted", requests_counted) >= 7
    if edge_kind == "nginx":
        def edge_counted() -> tuple[bool, float]:
            value = _query(prometheus, edge_requests)[1]
            return value >= before + 7, value

        assert _poll("the requests counted at the edge", edge_counted) >= before + 7
        exporter = docker_client.containers.get(f"{name}-{edge_service}-exporter-1")
        assert not any(exporter.attrs["NetworkSettings"]["Ports"].values())  # never published
        assert exporter.attrs["State"]["Health"]["Status"] == "healthy"
        assert exporter.attrs["HostConfig"]["ReadonlyRootfs"] is True
    rules = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {r["name"] for g in rules for r in g["rules"]} == {"TargetDown", "HighErrorRatio"}


@pytest.mark.timeout(1800)
def test_microservices_targets_saga_outcomes_and_the_gateways_own_metrics(
        stack_dir: Path, tmp_path: Path, docker_client: Any) -> None:
    require_images(docker_client, [CATALOG[k].image for k in (
        "envoy", "rabbitmq", "postgres", "python", "prometheus")])
    name = f"e2e-obs-ms-{secrets.token_hex(3)}"
    https_port, ui_port = _free_port(), _free_port()
    spec = {"name": name, "architecture": "microservices",
            "gateway": {"kind": "envoy", "http_port": _free_port(), "https_port": https_port},
            "bus": {"kind": "rabbitmq"},
            "services": [{"name": "orders", "database": "postgres"}],
            "sagas": [{"name": "buy", "steps": [{"service": "orders", "action": "create",
                                                 "compensate": "cancel"}]}],
            # Free host ports for every UI: other stacks may run on the same engine.
            "observability": ["prometheus"],
            "ui_ports": {"prometheus": ui_port, "rabbitmq": _free_port()}}
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    archgen("new", spec_file, "-o", stack_dir)
    archgen("up", "--wait", "--timeout", "900", cwd=stack_dir, timeout=1200)
    expected = {"orders:8000", "sagas:8000", "gateway:9902", "localhost:9090"}

    with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False,
                      timeout=30) as gateway:
        for path in ("/api/orders/metrics", "/api/sagas/metrics"):
            assert gateway.get(path).status_code == 404, path
        started = gateway.post("/api/sagas/buy", json={"order": "e2e"})
        assert started.status_code == 202, started.text
        saga_id = started.json()["id"]

        def finished() -> tuple[bool, str]:
            state = str(gateway.get(f"/api/sagas/buy/{saga_id}").json()["state"])
            return state != "running", state

        assert _poll("the saga to finish", finished) == "completed"

    prometheus = f"http://127.0.0.1:{ui_port}"

    _every_target_up(prometheus, expected)

    def query(expression: str) -> tuple[bool, float]:
        result = httpx.get(f"{prometheus}/api/v1/query", timeout=10,
                           params={"query": expression}).json()["data"]["result"]
        value = float(result[0]["value"][1]) if result else 0.0
        return value > 0, value

    assert _poll("the saga outcome", lambda: query(
        'sum(saga_outcomes_total{job="sagas",saga="buy",outcome="completed"})')) >= 1
    assert _poll("the outbox relay", lambda: query("sum(outbox_published_total)")) >= 1
    # The saga's command was consumed by orders, its reply by the orchestrator: each consumer
    # observed the message's bus lag (from the envelope's writing to its handling).
    assert _poll("the command's bus lag", lambda: query(
        'sum(bus_message_lag_seconds_count{job="orders",topic="orders.commands"})')) >= 1
    assert _poll("the reply's bus lag", lambda: query(
        'sum(bus_message_lag_seconds_count{job="sagas",topic="sagas.replies"})')) >= 1
    lag = _poll("a bus lag p95", lambda: query(
        'histogram_quantile(0.95, sum by (le) (bus_message_lag_seconds_bucket{job="sagas"}))'))
    assert 0 < lag <= 60, lag
    assert _poll("the gateway's own metrics", lambda: query(
        'sum(envoy_http_downstream_rq_total{job="gateway"})')) > 0
