"""`observability: [jaeger]`: Jaeger and every app's trace export, rendered from the model.

Jaeger is hardened and publishes only its UI, on 127.0.0.1; OTLP stays on the project's
network; every app or service (never a one-shot test job) is told where to send its
traces and under which service name; the README lists the UIs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.catalog import CATALOG
from archgen.model import resolve_data
from archgen.render import render_project

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
