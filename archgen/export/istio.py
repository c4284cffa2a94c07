"""Istio resources for an exported project: Gateway, VirtualServices, DestinationRules, mTLS.

The Gateway passes TLS through to the edge, which terminates it as it does in compose;
traffic between pods is mutual TLS (PeerAuthentication STRICT). The load-balancing
algorithm of the spec, retries and outlier detection go to the HTTP upstreams of the edge.
"""

from __future__ import annotations

from typing import Any

from archgen.export._pods import metadata
from archgen.export.kubernetes import Manifests, ingress_host
from archgen.export.report import Report
from archgen.model.graph import Architecture

NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"


def load_balancer(algorithm: str | None, report: Report, edge: str) -> dict[str, Any]:
    """The DestinationRule loadBalancer for the spec's algorithm (reported where it differs)."""
    if algorithm == "least_conn":
        return {"simple": "LEAST_REQUEST"}
    if algorithm == "ip_hash":
        return {"consistentHash": {"useSourceIp": True}}
    if algorithm == "weighted":
        report.changed(edge, "algorithm", "weighted: Istio weighs subsets of a service, not the "
                       "pods of one Deployment, whose replicas are identical: ROUND_ROBIN; give "
                       "heavier pods more CPU, or split them into subsets and weigh those")
    return {"simple": "ROUND_ROBIN"}


def _http_route(host: str, port: int | None, by_port: bool,
                health: dict[str, Any]) -> dict[str, Any]:
    """One `http` route of an upstream's VirtualService, retried on connection failures.

    A route naming a destination port sends everything it matches there: with HTTP and
    gRPC ports on one host, each route matches its own port, or gRPC would reach HTTP's.
    """
    route: dict[str, Any] = {"destination": {"host": host}}
    if port:
        route["destination"]["port"] = {"number": port}
    return {**({"match": [{"port": port}]} if by_port else {}),
            "route": [route],
            "retries": {"attempts": int(health.get("retries", 2)) + 1, "perTryTimeout": "5s",
                        "retryOn": "connect-failure,refused-stream,unavailable,reset,503"}}


def istio_objects(architecture: Architecture, manifests: Manifests,
                  report: Report) -> list[dict[str, Any]]:
    """The Istio resources for the exported manifests."""
    project = architecture.name
    objects: list[dict[str, Any]] = [
        {"apiVersion": SECURITY, "kind": "PeerAuthentication",
         "metadata": metadata("default", project), "spec": {"mtls": {"mode": "STRICT"}}}]
    for unit in manifests.units:
        if unit.kind == "Job":
            report.changed(unit.name, "istio", "a Job completes only when its sidecar stops too: "
                           "enable Istio's native sidecars (ENABLE_NATIVE_SIDECARS, Kubernetes "
                           ">= 1.29), or the Job pod keeps running after its work is done")
    edge = manifests.edge
    if edge is None:
        return objects
    for unit in manifests.units:
        if dict(unit.workload.environment).get("APP_TRUSTED_PROXIES"):
            report.changed(unit.name, "environment.APP_TRUSTED_PROXIES", "with a sidecar, the "
                           "app's peer is the sidecar (127.0.0.6) unless Istio intercepts in "
                           "TPROXY mode: add it, or set interceptionMode TPROXY, or the app "
                           "sees every client as one")
    edge_context = architecture.context.get("edge") or {}
    algorithm = edge_context.get("algorithm") if edge_context.get("balanced") else None
    health = edge_context.get("health") or {}
    https = next((p for p in edge.node.ports if p.name == "https"), edge.node.ports[-1])
    host = ingress_host(project)
    gateway = f"{project}-gateway"
    objects += [
        {"apiVersion": NETWORKING, "kind": "Gateway", "metadata": metadata(gateway, project),
         "spec": {"selector": {"istio": "ingressgateway"}, "servers": [{
             "port": {"number": 443, "name": "https", "protocol": "HTTPS"},
             "hosts": [host], "tls": {"mode": "PASSTHROUGH"}}]}},
        {"apiVersion": NETWORKING, "kind": "VirtualService", "metadata": metadata(edge.name, project),
         "spec": {"hosts": [host], "gateways": [gateway], "tls": [{
             "match": [{"port": 443, "sniHosts": [host]}],
             "route": [{"destination": {"host": edge.name, "port": {"number": https.container}}}]}]}},
    ]
    report.mapped(edge.name, "ports.https", "Istio Gateway (TLS PASSTHROUGH to the edge, which "
                  "terminates TLS with its own pair, as in compose)")
    # HTTP and gRPC (HTTP/2) upstreams of the edge: their routes are the sidecars' `http` routes.
    proxied = [e for e in architecture.edges if e.source == edge.node.id
               and e.protocol.upper().startswith(("HTTP", "GRPC"))]
    for upstream in sorted({e.target for e in proxied}):
        for unit in (u for u in manifests.units if u.node.id == upstream and u.kind != "Job"):
            ports: list[int | None] = [*sorted({e.port for e in proxied
                                                if e.target == upstream and e.port})]
            balancing = load_balancer(algorithm, report, edge.name)
            for host_name in [unit.name, *(unit.instance_names if unit.grouped else [])]:
                objects.append({
                    "apiVersion": NETWORKING, "kind": "VirtualService",
                    "metadata": metadata(host_name, project),
                    "spec": {"hosts": [host_name], "http": [
                        _http_route(host_name, port, len(ports) > 1, health)
                        for port in ports or [None]]}})
                objects.append({
                    "apiVersion": NETWORKING, "kind": "DestinationRule",
                    "metadata": metadata(host_name, project),
                    "spec": {"host": host_name, "trafficPolicy": {
                        "loadBalancer": balancing,
                        "outlierDetection": {
                            "consecutive5xxErrors": int(health.get("fall", 3)),
                            "interval": f"{max(1, int(health.get('interval_ms', 5000)) // 1000)}s",
                            "baseEjectionTime": f"{int(health.get('fail_timeout_s', 30))}s",
                            "maxEjectionPercent": 50}}}})
            report.mapped(unit.name, "balancing", f"DestinationRule {balancing} with "
                          "outlierDetection; VirtualService retries (the edge's upstream health "
                          "checks and retries, done by the sidecars)")
    return objects
