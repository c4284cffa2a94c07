"""End to end on a real Docker engine: traces reach Jaeger (the stand-in built from its Go module).

A request through the edge with a W3C `traceparent` is one trace in Jaeger's API with the
app's server span; in microservices a saga run is one trace with spans from the Envoy
gateway (its own span, the child of the caller's and the parent of the orchestrator's server
span), the orchestrator and each service it reached over the bus. Grafana is not run here (no
image can be built): its files are checked in tests/render/test_grafana_render.py.
"""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archgen.catalog import CATALOG
from tests.e2e.conftest import require_images
from tests.e2e.test_mvc_stack import _free_port, _status, archgen

pytestmark = pytest.mark.docker

WAIT_S = 90  # spans leave the apps in batches (every 5 s)


def _traceparent() -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


def _trace(jaeger: str, trace_id: str, services: set[str]) -> dict[str, Any]:
    """The trace `trace_id` from Jaeger's API once it holds spans of every one of `services`."""
    deadline = time.monotonic() + WAIT_S
    last: Any = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{jaeger}/api/traces/{trace_id}", timeout=10)
            if response.status_code == 200 and response.json().get("data"):
                (trace,) = response.json()["data"]
                seen = {p["serviceName"] for p in trace["processes"].values()}
                last = seen
                if services <= seen:
                    return dict(trace)
            else:
                last = response.status_code
        except httpx.HTTPError as error:
            last = error
        time.sleep(2)
    raise AssertionError(f"trace {trace_id} with spans of {sorted(services)} not in Jaeger "
                         f"within {WAIT_S}s; last: {last}")


def _listed(jaeger: str, service: str, trace_id: str) -> bool:
    """`GET /api/traces?service=…` (the UI's search) lists the trace."""
    found = httpx.get(f"{jaeger}/api/traces", params={"service": service, "limit": 50},
                      timeout=10).json()["data"]
    return trace_id in {t["traceID"] for t in found}


def _services_of_spans(trace: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for span in trace["spans"]:
        service = trace["processes"][span["processID"]]["serviceName"]
        counts[service] = counts.get(service, 0) + 1
    return counts


def _ui_published_on_loopback(project: Path, name: str, ui_port: int, docker_client: Any) -> None:
    row = _status(project)[f"{name}-jaeger-1"]
    assert any(f"127.0.0.1:{ui_port}" in port for port in row["ports"]), row
    ports = docker_client.containers.get(f"{name}-jaeger-1").attrs["NetworkSettings"]["Ports"]
    assert [b["HostIp"] for b in ports["16686/tcp"]] == ["127.0.0.1"], ports
    for otlp in ("4317/tcp", "4318/tcp"):
        assert not ports.get(otlp), f"OTLP {otlp} must not be published: {ports}"


def test_a_request_through_the_proxy_is_one_trace_with_the_apps_span(
        stack_dir: Path, tmp_path: Path, docker_client: Any) -> None:
    require_images(docker_client, [CATALOG[k].image for k in (
        "nginx", "postgres", "redis", "python", "jaeger")])
    name = f"e2e-trace-mvc-{secrets.token_hex(3)}"
    https_port, ui_port = _free_port(), _free_port()
    spec = {"name": name, "architecture": "mvc",
            "proxy": {"kind": "nginx", "http_port": _free_port(), "https_port": https_port},
            "database": {"engine": "postgres"},
            "observability": ["jaeger"], "ui_ports": {"jaeger": ui_port}}
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    archgen("new", spec_file, "-o", stack_dir)
    archgen("up", "--wait", "--timeout", "600", cwd=stack_dir)
    _ui_published_on_loopback(stack_dir, name, ui_port, docker_client)

    trace_id, traceparent = _traceparent()
    with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False,
                      timeout=30) as edge:
        created = edge.post("/api/items", json={"name": "lamp"},
                            headers={"traceparent": traceparent})
        assert created.status_code == 201, created.text
    jaeger = f"http://127.0.0.1:{ui_port}"
    trace = _trace(jaeger, trace_id, {"app"})
    # nginx passed the header through: the app's server span is in the caller's trace.
    assert {s["traceID"] for s in trace["spans"]} == {trace_id}
    assert any(s["operationName"] == "POST /api/items" for s in trace["spans"]), trace["spans"]
    assert _listed(jaeger, "app", trace_id)


@pytest.mark.timeout(1800)
def test_a_saga_run_is_one_trace_across_the_orchestrator_and_the_services(
        stack_dir: Path, tmp_path: Path, docker_client: Any) -> None:
    require_images(docker_client, [CATALOG[k].image for k in (
        "envoy", "rabbitmq", "postgres", "python", "jaeger")])
    name = f"e2e-trace-ms-{secrets.token_hex(3)}"
    https_port, ui_port = _free_port(), _free_port()
    spec = {"name": name, "architecture": "microservices",
            "gateway": {"kind": "envoy", "http_port": _free_port(), "https_port": https_port},
            "bus": {"kind": "rabbitmq"},
            "services": [{"name": "orders", "database": "postgres"},
                         {"name": "payments", "database": "postgres"}],
            "sagas": [{"name": "buy", "steps": [
                {"service": "orders", "action": "create", "compensate": "cancel"},
                {"service": "payments", "action": "charge", "compensate": "refund"}]}],
            "observability": ["jaeger"], "ui_ports": {"jaeger": ui_port}}
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    archgen("new", spec_file, "-o", stack_dir)
    archgen("up", "--wait", "--timeout", "900", cwd=stack_dir, timeout=1200)
    _ui_published_on_loopback(stack_dir, name, ui_port, docker_client)

    trace_id, traceparent = _traceparent()
    with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False,
                      timeout=30) as gateway:
        started = gateway.post("/api/sagas/buy", json={"order": "e2e"},
                               headers={"traceparent": traceparent})
        assert started.status_code == 202, started.text
        saga_id = started.json()["id"]
        deadline = time.monotonic() + WAIT_S
        state = "running"
        while state == "running" and time.monotonic() < deadline:
            time.sleep(1)
            state = gateway.get(f"/api/sagas/buy/{saga_id}").json()["state"]
        assert state == "completed", state

    jaeger = f"http://127.0.0.1:{ui_port}"
    trace = _trace(jaeger, trace_id, {"gateway", "sagas", "orders", "payments"})
    assert {s["traceID"] for s in trace["spans"]} == {trace_id}
    service_of = {s["spanID"]: trace["processes"][s["processID"]]["serviceName"]
                  for s in trace["spans"]}
    parent_of = {s["spanID"]: {r["spanID"] for r in s.get("references", [])
                               if r["refType"] == "CHILD_OF"} for s in trace["spans"]}
    # The gateway continues the caller's context: its span's parent is the client's span
    # (not in Jaeger: the gateway's is the root of what Jaeger holds) ...
    gateway_spans = [span_id for span_id, service in service_of.items() if service == "gateway"]
    assert len(gateway_spans) == 1, gateway_spans
    assert parent_of[gateway_spans[0]] <= {traceparent.split("-")[2]}, parent_of[gateway_spans[0]]
    # ... and the orchestrator's server span is the child of the gateway's.
    assert any(service_of[span_id] == "sagas" and gateway_spans[0] in parents
               for span_id, parents in parent_of.items()), (service_of, parent_of)
    counts = _services_of_spans(trace)
    print(f"saga {saga_id}: one trace {trace_id}, spans per service {counts}")
    # The orchestrator's request and reply handling, each service's command handling.
    assert counts["sagas"] >= 2 and counts["orders"] >= 1 and counts["payments"] >= 1, counts
    consumers = {s["operationName"] for s in trace["spans"]}
    assert {"orders.commands process", "payments.commands process"} <= consumers, consumers
    assert _listed(jaeger, "sagas", trace_id)


def test_up_with_grafana_says_its_image_is_missing(stack_dir: Path, tmp_path: Path,
                                                   docker_client: Any) -> None:
    """Grafana has no stand-in: `archgen up` stops before starting anything, naming the image."""
    import docker.errors

    image = CATALOG["grafana"].image
    try:
        docker_client.images.get(image)
    except docker.errors.ImageNotFound:
        pass
    else:
        pytest.skip(f"{image} is present here: nothing to prove")
    require_images(docker_client, [CATALOG[k].image for k in ("nginx", "redis", "python")])
    spec = {"name": f"e2e-grafana-{secrets.token_hex(3)}", "architecture": "mvc",
            "proxy": {"http_port": _free_port(), "https_port": _free_port()},
            "database": {"engine": "postgres"}, "observability": ["prometheus", "grafana"],
            "ui_ports": {"prometheus": _free_port(), "grafana": _free_port()}}
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    archgen("new", spec_file, "-o", stack_dir)
    result = archgen("up", "--wait", "--timeout", "300", cwd=stack_dir, check=False)
    assert result.returncode != 0
    assert f"image {image} (service 'grafana') is not present" in result.stderr, result.stderr
    print("Grafana itself cannot run here: `archgen up` says so:",
          result.stderr.strip().splitlines()[-2])
    assert "no containers" in archgen("status", cwd=stack_dir).stdout + archgen(
        "status", cwd=stack_dir).stderr
