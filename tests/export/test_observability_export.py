"""Prometheus, Jaeger and Grafana in the exports: a loopback-only UI gets no Ingress
(Kubernetes) and no published port (Swarm, which has no bind address); the edge stays the
only way in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from archgen.export.report import Report
from archgen.export.swarm import build_stack
from archgen.model import resolve
from archgen.render import render_project
from archgen.spec import load_spec
from tests.export.kube import documents, validate
from tests.helpers import mvc_spec


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("observed") / "shop"
    render_project({**mvc_spec(), "observability": ["prometheus", "jaeger", "grafana"]}, root)
    return root


def test_kubernetes_routes_the_ingress_to_the_edge_only(cli: Any, project: Path,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = cli("export", "kubernetes", project, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "kubectl port-forward" in result.stderr
    docs = [d for f in sorted((out / "base").glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in documents(f.read_text())]
    for doc in docs:
        validate(doc)
    (ingress,) = [d for d in docs if d["kind"] == "Ingress"]
    backends = {path["backend"]["service"]["name"] for rule in ingress["spec"]["rules"]
                for path in rule["http"]["paths"]}
    assert backends == {"proxy"}
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert {"prometheus", "jaeger", "grafana"} <= services


def test_swarm_does_not_publish_the_ui(project: Path) -> None:
    report = Report("swarm")
    stack = build_stack(resolve(load_spec(project / "archgen.yaml")), project, report)
    services = stack.document["services"]
    for ui in ("prometheus", "jaeger", "grafana"):
        assert "ports" not in services[ui], ui
    assert services["proxy"]["ports"]
