"""`observability: [jaeger]`: Jaeger and every app's trace export, rendered from the model.

Jaeger is hardened and publishes only its UI, on 127.0.0.1; OTLP stays on the project's
network; every app or service (never a one-shot test job) is told where to send its
traces and under which service name; the README lists the UIs. An Envoy edge (proxy, load
balancer or gateway) makes its own spans: its HTTPS listener, and no other, has the
OpenTelemetry tracer, which the real envoy binary (and the image's) accepts; the other edges
only pass `traceparent` through, and the README says which.
"""

from __future__ import annotations

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
from tests.render.test_proxy_configs import _check, _require_binary

JAEGER = {"observability": ["prometheus", "jaeger"]}
SPECS: dict[str, dict[str, Any]] = {
    "mvc": {"name": "shop", "architecture": "mvc", "database": {"engine": "postgres"}},
    "scaled": {"name": "shop", "architecture": "scaled", "app": {"replicas": 2},
               "load_balancer": {"kind": "haproxy"}},
    "microservices": {
        "name": "shop", "architecture": "microservices", "bus": {"kind": "rabbitmq"},
        "services": [{"name": "orders"}, {"name": "payments", "database": "mongodb"}],
        "sagas": [{"name": "buy", "steps": [{"service": "orders", "action": "create"},
                                            {"service": "payments", "action": "charge"}]}]},
}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tracing")
    rendered = {}
    for name, spec in SPECS.items():
        rendered[name] = root / name
        render_project({**spec, **JAEGER}, rendered[name])
    return rendered


def _compose(project: Path) -> dict[str, Any]:
    return dict(yaml.safe_load((project / "compose.yaml").read_text()))


@pytest.mark.parametrize("name", list(SPECS))
def test_jaeger_is_hardened_and_publishes_only_its_ui_on_loopback(
        projects: dict[str, Path], name: str) -> None:
    jaeger = _compose(projects[name])["services"]["jaeger"]
    assert jaeger["image"] == CATALOG["jaeger"].image
    assert jaeger["ports"] == ["127.0.0.1:16686:16686"]  # OTLP (4317, 4318) never published
    assert jaeger["user"] == "10001" and jaeger["read_only"] is True
    assert jaeger["cap_drop"] == ["ALL"] and "no-new-privileges:true" in jaeger["security_opt"]
    assert jaeger["healthcheck"]["test"] == list(CATALOG["jaeger"].healthcheck.test)  # type: ignore[union-attr]
    assert "wget" in CATALOG["jaeger"].binaries


@pytest.mark.parametrize("name", list(SPECS))
def test_every_app_sends_its_traces_to_jaeger_under_its_own_name(
        projects: dict[str, Path], name: str) -> None:
    services = _compose(projects[name])["services"]
    model = resolve_data({**SPECS[name], **JAEGER})
    apps = [w for w in model.workloads if w.kind == "python"]
    assert apps
    jaeger_networks = set(services["jaeger"]["networks"])
    for app in apps:
        environment = services[app.name].get("environment", {})
        if app.job:  # the one-shot test runners export nothing
            assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in environment, app.name
            continue
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318", app.name
        assert environment["OTEL_SERVICE_NAME"] == app.node, app.name
        assert jaeger_networks & set(services[app.name]["networks"]), app.name
    requirements = next(projects[name].glob("**/requirements.txt")).read_text()
    for package in ("opentelemetry-sdk==", "opentelemetry-exporter-otlp-proto-http==",
                    "opentelemetry-instrumentation-fastapi=="):
        assert package in requirements


def test_the_ui_port_comes_from_the_spec_and_the_readme_lists_every_ui(tmp_path: Path) -> None:
    render_project({**SPECS["mvc"], **JAEGER, "ui_ports": {"jaeger": 16000, "prometheus": 9191}},
                   tmp_path / "p")
    assert _compose(tmp_path / "p")["services"]["jaeger"]["ports"] == ["127.0.0.1:16000:16686"]
    readme = (tmp_path / "p" / "README.md").read_text()
    assert "| Jaeger (`jaeger`) | http://127.0.0.1:16000 |" in readme
    assert "| Prometheus (`prometheus`) | http://127.0.0.1:9191 |" in readme
    assert "## Traces" in readme and "traceparent" in readme


def test_without_jaeger_nothing_is_exported(tmp_path: Path) -> None:
    render_project({**SPECS["microservices"], "observability": ["prometheus"]}, tmp_path / "p")
    compose = (tmp_path / "p" / "compose.yaml").read_text()
    assert "jaeger" not in compose and "OTEL_" not in compose
    assert "## Traces" not in (tmp_path / "p" / "README.md").read_text()


def test_the_microservices_readme_says_a_saga_is_one_trace(projects: dict[str, Path]) -> None:
    readme = (projects["microservices"] / "README.md").read_text()
    assert "a saga run is one\ntrace" in readme or "a saga run is one trace" in readme


# One spec per envoy edge: the mvc proxy, the scaled load balancer, the gateway (with auth,
# whose Keycloak route and cluster sit next to the tracer's).
ENVOY_EDGES: dict[str, dict[str, Any]] = {
    "proxy": {**SPECS["mvc"], "proxy": {"kind": "envoy"}},
    "lb": {**SPECS["scaled"], "load_balancer": {"kind": "envoy"}},
    "gateway": {**SPECS["microservices"], "gateway": {"kind": "envoy"},
                "auth": {"provider": "keycloak"}},
}


@pytest.fixture(scope="module")
def envoy_edges(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("envoy-tracing")
    for service, spec in ENVOY_EDGES.items():
        render_project({**spec, **JAEGER}, root / service)
    return {service: root / service for service in ENVOY_EDGES}


def _envoy(project: Path, service: str) -> dict[str, Any]:
    return dict(yaml.safe_load((project / service / "envoy.yaml").read_text()))


def _hcm(listener: dict[str, Any]) -> dict[str, Any]:
    return dict(listener["filter_chains"][0]["filters"][0]["typed_config"])


@pytest.mark.parametrize("service", list(ENVOY_EDGES))
def test_an_envoy_edge_makes_its_own_spans_on_its_https_listener_only(
        envoy_edges: dict[str, Path], service: str) -> None:
    config = _envoy(envoy_edges[service], service)
    listeners = {x["name"]: x for x in config["static_resources"]["listeners"]}
    tracing = _hcm(listeners.pop("https"))["tracing"]
    assert tracing["random_sampling"] == {"value": 100}
    provider = tracing["provider"]
    assert provider["name"] == "envoy.tracers.opentelemetry"
    assert provider["typed_config"]["service_name"] == service
    cluster_name = provider["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"]
    for other in listeners.values():  # the redirect, and the metrics listener: no spans
        assert "tracing" not in _hcm(other), other["name"]
    (cluster,) = [c for c in config["static_resources"]["clusters"] if c["name"] == cluster_name]
    address = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert address["socket_address"] == {"address": "jaeger",
                                         "port_value": CATALOG["jaeger"].ports["otlp-grpc"]}
    options = cluster["typed_extension_protocol_options"][
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
    assert "http2_protocol_options" in options["explicit_http_config"]  # OTLP/gRPC is HTTP/2


@pytest.mark.parametrize("service", list(ENVOY_EDGES))
def test_the_traced_edge_reaches_jaeger_and_restarts_with_its_tracer(
        envoy_edges: dict[str, Path], service: str, tmp_path: Path) -> None:
    services = _compose(envoy_edges[service])["services"]
    assert set(services[service]["networks"]) & set(services["jaeger"]["networks"])
    render_project(ENVOY_EDGES[service], tmp_path / "untraced")
    untraced = _compose(tmp_path / "untraced")["services"][service]
    assert "tracing" not in (tmp_path / "untraced" / service / "envoy.yaml").read_text()
    label = "io.archgen.edge-config"
    assert services[service]["labels"][label] != untraced["labels"][label]
    model = resolve_data({**ENVOY_EDGES[service], **JAEGER})
    assert any(e.source == service and e.target == "jaeger" and e.protocol == "OTLP"
               and e.port == CATALOG["jaeger"].ports["otlp-grpc"] for e in model.edges)
    readme = (envoy_edges[service] / "README.md").read_text()
    assert f"makes its own span of every request too, as service `{service}`" in readme


def _validatable(project: Path, service: str, work: Path, tls: str) -> Path:
    config = work / f"{service}.yaml"
    config.write_text((project / service / "envoy.yaml").read_text()
                      .replace("/etc/archgen/tls/", tls))
    return config


@pytest.mark.parametrize("service", list(ENVOY_EDGES))
def test_the_real_envoy_accepts_the_traced_config(
        envoy_edges: dict[str, Path], service: str, tmp_path: Path) -> None:
    binary = _require_binary("envoy")
    project = envoy_edges[service]
    config = _validatable(project, service, tmp_path, f"{project / service / 'tls'}/")
    done = _check([binary, "--mode", "validate", "-c", str(config), "--log-level", "warn"])
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "[warning]" not in output, output


@pytest.mark.docker
def test_the_envoy_image_has_the_opentelemetry_tracer(
        envoy_edges: dict[str, Path], tmp_path: Path) -> None:
    """The image's own binary validates the gateway's traced config (tracer extension and all)."""
    if shutil.which("docker") is None:
        unavailable("docker is not installed")
    project = envoy_edges["gateway"]
    _validatable(project, "gateway", tmp_path, "/etc/archgen/tls/")
    done = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "envoy",
         "-v", f"{tmp_path}:/etc/envoy:ro", "-v", f"{project / 'gateway' / 'tls'}:/etc/archgen/tls:ro",
         CATALOG["envoy"].image, "--mode", "validate", "-c", "/etc/envoy/gateway.yaml"],
        capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0 and "Unable to find image" in done.stderr:
        unavailable(f"the stand-in image {CATALOG['envoy'].image} is not built")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "configuration '/etc/envoy/gateway.yaml' OK" in done.stdout + done.stderr


@pytest.mark.parametrize("kind", ["nginx", "httpd"])
def test_edges_without_a_tracer_pass_traceparent_through_and_the_readme_says_so(
        kind: str, tmp_path: Path) -> None:
    render_project({**SPECS["mvc"], "proxy": {"kind": kind}, **JAEGER}, tmp_path / "p")
    readme = (tmp_path / "p" / "README.md").read_text()
    assert f"The reverse proxy ({kind}) has no OpenTelemetry module here: it makes no span" in readme
    model = resolve_data({**SPECS["mvc"], "proxy": {"kind": kind}, **JAEGER})
    assert model.context["observability"]["jaeger"]["edge"]["spans"] is False
    assert not any(e.source == "proxy" and e.target == "jaeger" for e in model.edges)
