"""gRPC in the exports: the app's gRPC port is a containerPort and a Service port named `grpc`
(appProtocol grpc, so Istio carries HTTP/2), the edge's config reaches it by a name the cluster
resolves, the NetworkPolicy admits it, the Ingress carries gRPC to the edge, Istio routes each
port to itself; behind httpd the loopback-published port stays private (port-forward in
Kubernetes, unpublished in Swarm); in Swarm the edge reaches the app's 50051 over the overlay.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.export import build_export, write_export
from archgen.model import resolve
from archgen.model._grpc import GRPC_PORT
from archgen.model.graph import Architecture
from archgen.spec import load_spec
from tests.export.kube import documents, helm_binary, render_chart, validate
from tests.helpers import mvc_spec

GRPC = ["rest", "grpc"]
SPECS: dict[str, dict[str, Any]] = {
    "mvc-nginx": mvc_spec(name="rpc", app={"api": GRPC}),
    "mvc-envoy": mvc_spec(name="rpc-envoy", proxy={"kind": "envoy"}, app={"api": GRPC}),
    "mvc-httpd": mvc_spec(name="rpc-httpd", proxy={"kind": "httpd"}, app={"api": GRPC}),
    "scaled-haproxy": {"name": "rpc-scaled", "architecture": "scaled",
                       "load_balancer": {"kind": "haproxy"}, "app": {"replicas": 2, "api": GRPC},
                       "database": {"engine": "postgres", "replicas": 2},
                       "cache": {"sentinel": False}},
    "microservices-nginx": {"name": "rpc-micro", "architecture": "microservices",
                            "gateway": {"kind": "nginx"},
                            "services": [{"name": "orders", "api": GRPC},
                                         {"name": "stock", "database": "none"}]},
}
CARRIED = [name for name in SPECS if name != "mvc-httpd"]


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from archgen.render import render_project

    root = tmp_path_factory.mktemp("grpc")
    for name, spec in SPECS.items():
        render_project(spec, root / name)
    return {name: root / name for name in SPECS}


@pytest.fixture(scope="module")
def kubernetes(projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
               ) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("grpc-exports")
    out = {}
    for name, project in projects.items():
        for target in ("kubernetes", "helm"):
            write_export(build_export(target, project, istio=True), root / f"{name}-{target}")
        out[name] = root / f"{name}-kubernetes"
    return out


def _model(project: Path) -> Architecture:
    return resolve(load_spec(project / "archgen.yaml"))


def _docs(folder: Path) -> list[dict[str, Any]]:
    return [d for f in sorted((folder / "base").glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in documents(f.read_text())]


def _of(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _envoy_endpoint(host: str, port: int) -> str:
    return f"socket_address: {{address: {host}, port_value: {port}}}"


def _grpc_nodes(architecture: Architecture) -> list[str]:
    return [n.id for n in architecture.nodes if any(p.name == "grpc" for p in n.ports)]


@pytest.mark.parametrize("name", list(SPECS))
def test_every_grpc_workload_has_a_grpc_container_and_service_port(
        projects: dict[str, Path], kubernetes: dict[str, Path], name: str) -> None:
    architecture = _model(projects[name])
    nodes = _grpc_nodes(architecture)
    assert nodes, "the model gives the gRPC app a grpc port"
    docs = _docs(kubernetes[name])
    for doc in docs:
        validate(doc)
    services = _of(docs, "Service")
    for doc in docs:
        if doc["kind"] not in ("Deployment", "StatefulSet"):
            continue
        component = doc["metadata"]["labels"]["app.kubernetes.io/component"]
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        container_ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        service_ports = {p["name"]: p for p in services[doc["metadata"]["name"]]["spec"]["ports"]}
        if component in nodes:
            assert container_ports["grpc"] == GRPC_PORT
            # Istio picks HTTP/2 by the port's name prefix `grpc` and by appProtocol.
            assert service_ports["grpc"] == {"name": "grpc", "port": GRPC_PORT,
                                             "targetPort": GRPC_PORT, "appProtocol": "grpc"}
        else:
            assert "grpc" not in container_ports and "grpc" not in service_ports


@pytest.mark.parametrize("name", CARRIED)
def test_the_edge_config_routes_grpc_to_a_service_port_that_exists(
        projects: dict[str, Path], kubernetes: dict[str, Path], name: str) -> None:
    architecture = _model(projects[name])
    edge = architecture.context["edge"]
    backends = edge["grpc"]
    assert backends
    docs = _docs(kubernetes[name])
    config = _of(docs, "ConfigMap")[f"{edge['dir']}-files"]["data"][edge["config_file"]]
    services = _of(docs, "Service")
    namespace = architecture.name
    for backend in backends:
        host, port = backend["host"], backend["port"]
        assert port in [p["port"] for p in services[host]["spec"]["ports"]], host
        if edge["kind"] in ("nginx", "haproxy"):
            # Their resolvers apply no search domain: the name is fully qualified.
            assert f"{host}.{namespace}.svc.cluster.local:{port}" in config
            assert not re.search(rf"(?<![\w.-]){re.escape(host)}:{port}\b", config)
        else:
            assert _envoy_endpoint(host, port) in config


@pytest.mark.parametrize("name", CARRIED)
def test_network_policy_admits_the_edge_on_the_grpc_port(
        projects: dict[str, Path], kubernetes: dict[str, Path], name: str) -> None:
    architecture = _model(projects[name])
    edge_node = next(n.id for n in architecture.nodes if n.tier == "edge")
    policies = _of(_docs(kubernetes[name]), "NetworkPolicy")
    for node in _grpc_nodes(architecture):
        admitted = {(peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"], p["port"])
                    for rule in policies[f"allow-to-{node}"]["spec"]["ingress"]
                    for peer in rule.get("from", []) for p in rule.get("ports", [])}
        assert (edge_node, GRPC_PORT) in admitted


@pytest.mark.parametrize("name", CARRIED)
def test_a_grpc_ingress_carries_http2_to_the_edge(projects: dict[str, Path],
                                                   kubernetes: dict[str, Path], name: str) -> None:
    architecture = _model(projects[name])
    ingresses = _of(_docs(kubernetes[name]), "Ingress")
    grpc = ingresses.pop(f"{architecture.name}-grpc")
    (plain,) = ingresses.values()
    assert grpc["metadata"]["annotations"] == {
        "nginx.ingress.kubernetes.io/backend-protocol": "GRPCS"}
    assert grpc["spec"]["tls"] == plain["spec"]["tls"]
    (rule,) = grpc["spec"]["rules"]
    packages = [b["package"] for b in architecture.context["edge"]["grpc"]]
    # gRPC's health and reflection services too, where the edge routes them (not a gateway).
    config = (projects[name] / architecture.context["edge"]["dir"]
              / architecture.context["edge"]["config_file"]).read_text()
    routed = re.search(r"(location |prefix: )/grpc\.|content-type\) -m beg application/grpc",
                       config)
    standard = ["grpc"] if routed else []
    assert bool(standard) == (architecture.context["edge"]["role"] != "gateway")
    assert [p["path"] for p in rule["http"]["paths"]] == [f"/{p}." for p in [*packages, *standard]]
    backend = plain["spec"]["rules"][0]["http"]["paths"][0]["backend"]
    assert all(p["backend"] == backend and p["pathType"] == "ImplementationSpecific"
               for p in rule["http"]["paths"])


@pytest.mark.parametrize("name", CARRIED)
def test_istio_routes_each_port_of_a_grpc_upstream_to_itself(
        projects: dict[str, Path], kubernetes: dict[str, Path], name: str) -> None:
    architecture = _model(projects[name])
    virtual = _of(_docs(kubernetes[name]), "VirtualService")
    for backend in architecture.context["edge"]["grpc"]:
        routes = virtual[backend["host"]]["spec"]["http"]
        by_port = {r["match"][0]["port"]: r["route"][0]["destination"]["port"]["number"]
                   for r in routes}
        # Without a match per port, the HTTP route would send gRPC to the HTTP port.
        assert by_port == {8000: 8000, GRPC_PORT: GRPC_PORT}


@pytest.mark.parametrize("name", ["mvc-nginx", "scaled-haproxy"])
def test_the_helm_chart_carries_the_grpc_port(projects: dict[str, Path],
                                              kubernetes: dict[str, Path], name: str) -> None:
    chart = kubernetes[name].parent / f"{name}-helm"
    _, docs = render_chart(chart, "demo")
    for doc in docs:
        validate(doc)
    ports = [p for d in docs if d["kind"] == "Service" and d["metadata"]["name"] == "app"
             for p in d["spec"]["ports"]]
    assert {"name": "grpc", "port": GRPC_PORT, "targetPort": GRPC_PORT,
            "appProtocol": "grpc"} in ports
    config = next(d for d in docs if d["kind"] == "ConfigMap"
                  and d["metadata"]["name"] == ("proxy-files" if name == "mvc-nginx"
                                                else "lb-files"))
    assert f".demo.svc.cluster.local:{GRPC_PORT}" in "".join(config["data"].values())
    helm = helm_binary()
    assert helm is not None, "helm is needed to lint the chart"
    lint = subprocess.run([helm, "lint", "--strict", str(chart)], capture_output=True, text=True,
                          timeout=300)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_httpd_keeps_the_grpc_port_private(projects: dict[str, Path],
                                           kubernetes: dict[str, Path]) -> None:
    docs = _docs(kubernetes["mvc-httpd"])
    assert "rpc-httpd-grpc" not in _of(docs, "Ingress")
    export = build_export("kubernetes", projects["mvc-httpd"])
    (line,) = [x for x in export.report.lines if x.workload == "app" and x.setting == "ports.grpc"]
    assert "127.0.0.1:50051" in line.note and "kubectl port-forward" in line.note
    edge = [x for x in export.report.lines if x.workload == "proxy" and x.setting == "ports.https"]
    assert any("through the Ingress" in x.note for x in edge)
    # The edge has no gRPC route, so nothing admits another pod to the app's 50051.
    policy = _of(docs, "NetworkPolicy")["allow-to-app"]
    assert GRPC_PORT not in [p["port"] for r in policy["spec"]["ingress"]
                             for p in r.get("ports", [])]


# -- Swarm -----------------------------------------------------------------------------------

def _stack(project: Path) -> tuple[dict[str, Any], dict[str, str], Any]:
    export = build_export("swarm", project)
    stack = yaml.safe_load(export.files["stack.yaml"])
    configs = {k.removeprefix("configs/"): v for k, v in export.files.items()
               if k.startswith("configs/")}
    return stack, configs, export.report


@pytest.mark.parametrize("name", CARRIED)
def test_swarm_edge_reaches_every_grpc_backend_over_a_shared_overlay(
        projects: dict[str, Path], name: str) -> None:
    architecture = _model(projects[name])
    edge = architecture.context["edge"]
    stack, configs, _ = _stack(projects[name])
    services = stack["services"]
    config = configs[f"{edge['dir']}-{edge['config_file'].replace('.', '-')}"]
    edge_networks = set(services[edge["service"]]["networks"])
    for backend in edge["grpc"]:
        host = backend["host"]
        owner = next(s for s, body in services.items() if s == host or any(
            host in (n or {}).get("aliases", []) for n in body["networks"].values()))
        shared = edge_networks & set(services[owner]["networks"])
        assert shared and not any(stack["networks"][n].get("internal") for n in shared)
        assert "ports" not in services[owner]  # reached over the overlay, never published
        if edge["kind"] == "haproxy":
            # Replicas become one template per backend: gRPC keeps its own, over h2.
            assert f"server-template {owner}- 1-10 {owner}:{GRPC_PORT} proto h2 " in config
        elif edge["kind"] == "envoy":
            assert _envoy_endpoint(host, GRPC_PORT) in config
        else:
            assert f"{host}:{GRPC_PORT};" in config
    if edge["kind"] == "haproxy":
        assert re.search(r"server-template app- 1-10 app:8000\n", config)


def test_swarm_does_not_publish_the_loopback_grpc_port(projects: dict[str, Path]) -> None:
    stack, _, report = _stack(projects["mvc-httpd"])
    app = stack["services"]["app"]
    assert "ports" not in app
    assert app["deploy"]["update_config"]["order"] == "start-first"
    assert "max_replicas_per_node" not in app["deploy"].get("placement", {})
    (line,) = [x for x in report.lines if x.workload == "app" and x.setting == "ports"]
    assert "not published" in line.note and "grpc" in line.note
    assert stack["services"]["proxy"]["ports"]  # the edge is published as before
