"""The Kubernetes writer: the resolved model → manifests (one object tree, also read by the Helm writer).

Stateless workloads become Deployments (identical replicas of one node: one Deployment
with N replicas, plus a PodDisruptionBudget and a HorizontalPodAutoscaler); stateful
ones StatefulSets with volume claims behind headless Services; one-shot ones Jobs.
The edge (the workload with published ports) stays a Deployment behind a Service and
the Ingress routes to it, so TLS, redirects, headers and balancing stay where the
compose project has them. NetworkPolicies admit traffic only along the model's edges.
Secrets are referenced by name and created from `.env` and `secrets/` by
`create-secrets.sh`; the password files are mounted at `/run/secrets/<name>` as in compose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archgen.export._pods import PodWriter, labels, metadata, selector
from archgen.export._units import ProjectFiles, Unit, units_of
from archgen.export._values import Value
from archgen.export.report import Report
from archgen.model.graph import Architecture
from archgen.variables import SECRETS_DIR


@dataclass
class Manifests:
    """Every object, by the file it is written to, plus what the writers need to know."""

    project: str
    files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    units: list[Unit] = field(default_factory=list)
    edge: Unit | None = None
    secrets: dict[str, str] = field(default_factory=dict)  # secret -> project folder
    replicated: list[Unit] = field(default_factory=list)

    def add(self, file: str, *objects: dict[str, Any]) -> None:
        self.files.setdefault(file, []).extend(objects)


def _service(project: str, name: str, unit: Unit, *, headless: bool,
             not_ready: bool = False) -> dict[str, Any]:
    ports = [{"name": p.name[:15], "port": p.container, "targetPort": p.container,
              # Istio (and other meshes) pick the protocol by name prefix or appProtocol:
              # gRPC is HTTP/2, which a port taken for HTTP/1.1 or plain TCP would not carry.
              **({"appProtocol": "grpc"} if p.name == "grpc" else {})}
             for p in unit.node.ports]
    spec: dict[str, Any] = {"selector": selector(project, unit), "ports": ports}
    if headless:
        spec["clusterIP"] = "None"
    if not_ready:
        spec["publishNotReadyAddresses"] = True  # members find each other before they are ready
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": metadata(name, project, labels(project, unit)), "spec": spec}


def build(architecture: Architecture, files: ProjectFiles, report: Report) -> Manifests:
    """Map every workload of the model to Kubernetes objects, reporting each setting."""
    project = architecture.name
    out = Manifests(project)
    units, skipped = units_of(architecture)
    out.units = units
    for workload in skipped:
        report.skipped(workload.name, f"a one-shot job in profile {', '.join(workload.profiles)}: "
                       "not part of a deployment (run the project's tests with compose)")
    writer = PodWriter(project, files, report)
    edge_name = architecture.context.get("edge", {}).get("service")
    for unit in units:
        if unit.workload.ports and unit.name == edge_name:  # not a UI on 127.0.0.1
            out.edge = unit
        hpa = unit.kind == "Deployment" and unit.grouped
        objects = [writer.workload_object(unit, hpa)]
        if unit.grouped:
            out.replicated.append(unit)
            report.changed(unit.name, "instances", f"{', '.join(unit.instance_names)} are one "
                           f"Deployment with {unit.replicas} replicas (identical but for their "
                           "instance id); a Service per old name keeps configs that name them "
                           "working, each balancing over every replica")
        if unit.kind != "Job" and unit.node.ports:
            # The edge's Service is headless too: the app trusts forwarding headers from the
            # edge's name (APP_TRUSTED_PROXIES), which must resolve to the edge pods, the
            # peers the app sees, not to a virtual ClusterIP.
            headless = unit.kind == "StatefulSet" or unit is out.edge
            objects.append(_service(project, unit.name, unit, headless=headless,
                                    not_ready=unit.kind == "StatefulSet"))
            for alias in unit.instance_names if unit.grouped else []:
                objects.append(_service(project, alias, unit, headless=False))
        if hpa:
            objects += _scaling(project, unit)
            report.mapped(unit.name, "replicas", f"{unit.replicas}: Deployment replicas, a "
                          "PodDisruptionBudget (maxUnavailable 1) and a HorizontalPodAutoscaler "
                          f"({unit.replicas}..{unit.replicas * 2}, CPU 70 %)")
        out.add(f"{unit.name}.yaml", *objects)
    _adapt_edge_config(architecture, files, out.edge, report)
    _annotate_config_hashes(out, files, report)
    out.files = {"namespace.yaml": [{"apiVersion": "v1", "kind": "Namespace",
                                     "metadata": {"name": project}}],
                 "config.yaml": _config_maps(project, writer.settings, files), **out.files}
    if out.edge is not None:
        out.add("ingress.yaml", _ingress(project, out.edge))
        context = architecture.context["edge"]
        packages = [b["package"] for b in context.get("grpc") or []]
        if packages:
            # A proxy or load balancer (one app) also routes gRPC's own health and reflection
            # services (`/grpc.`); a gateway cannot tell whose they are.
            packages += [] if context.get("role") == "gateway" else ["grpc"]
            out.add("ingress.yaml", _grpc_ingress(project, out.edge, packages))
            report.changed(out.edge.name, "ingress.grpc", f"a second Ingress ({project}-grpc) "
                           "routes the gRPC path prefixes (" + ", ".join(
                               f"/{p}." for p in packages) + ") to the same HTTPS "
                           "port with backend-protocol GRPCS: ingress-nginx speaks HTTP/1.1 to "
                           "an HTTPS backend, which gRPC cannot ride; the edge routes them on "
                           "to the gRPC ports as in compose")
        for unit in units:
            trusted = dict(unit.workload.environment).get("APP_TRUSTED_PROXIES")
            if trusted == out.edge.name:
                report.changed(unit.name, "environment.APP_TRUSTED_PROXIES", f"{trusted}: the "
                               "edge's Service is headless, so the name resolves to the edge "
                               "pods the app sees as peers")
        report.changed(out.edge.name, "ingress", f"an Ingress with TLS (Secret {project}-tls) "
                       f"routes to the {out.edge.name} Service over HTTPS: the edge keeps its "
                       "TLS, redirects, headers and balancing; the backend-protocol annotation is "
                       "ingress-nginx's (other controllers name it differently), and the client "
                       "address the edge sees is the controller's. create-secrets.sh fills the "
                       "TLS Secret with the project's self-signed pair: replace it with a "
                       "certificate for the ingress host (e.g. from cert-manager)")
    out.add("network-policies.yaml", *_network_policies(architecture, units, out.edge, report))
    # `.env` holds settings now; its Secret only when a workload still reads a secret from it.
    from_env = any(var.secret for w in architecture.workloads for var in w.variables)
    out.secrets = {**({f"{project}-env": ".env"} if from_env else {}), **files.secrets}
    if any(w.secrets for w in architecture.workloads):
        out.secrets[writer.files_secret] = SECRETS_DIR
    return out


def _adapt_edge_config(architecture: Architecture, files: ProjectFiles, edge: Unit | None,
                       report: Report) -> None:
    from archgen.export._edge import adapt
    from archgen.export._units import dns_name

    context = architecture.context.get("edge")
    if edge is None or not isinstance(context, dict):
        return
    data = files.config_maps.get(dns_name(f"{context['dir']}-files"), {})
    key = str(context.get("config_file"))
    if key in data:
        data[key], notes = adapt(context, data[key])
        for note in notes:
            report.changed(edge.name, f"volumes../{context['dir']}/{key}", note)


def _annotate_config_hashes(out: Manifests, files: ProjectFiles, report: Report) -> None:
    """Give each pod template the hash of the ConfigMaps it mounts, so a changed file rolls it.

    Files mounted with subPath never see a ConfigMap update; a new template does.
    """
    import hashlib
    import json

    for objects in out.files.values():
        for obj in objects:
            if obj["kind"] not in ("Deployment", "StatefulSet", "Job"):
                continue
            template = obj["spec"]["template"]
            names = sorted({v["configMap"]["name"] for v in template["spec"].get("volumes", [])
                            if "configMap" in v})
            if not names:
                continue
            data = {name: files.config_maps.get(name, {}) for name in names}
            digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
            template["metadata"].setdefault("annotations", {})["archgen.io/config-hash"] = digest
            report.mapped(obj["metadata"]["name"], "config files", "pod annotation "
                          "archgen.io/config-hash: a changed file rolls the pods (subPath "
                          "mounts never see ConfigMap updates)")


def _config_maps(project: str, settings: dict[str, str],
                 files: ProjectFiles) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = [{
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(f"{project}-settings", project),
        "data": {k: Value(("settings", k), v) for k, v in sorted(settings.items())}}]
    for name, data in sorted(files.config_maps.items()):
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata(name, project),
                        "data": dict(sorted(data.items()))})
    return objects


def _scaling(project: str, unit: Unit) -> list[dict[str, Any]]:
    base = ("workloads", unit.name)
    return [
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": metadata(unit.name, project, labels(project, unit)),
         "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(project, unit)}}},
        {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
         "metadata": metadata(unit.name, project, labels(project, unit)),
         "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                     "name": unit.name},
                  "minReplicas": Value((*base, "replicas"), unit.replicas),
                  "maxReplicas": Value((*base, "maxReplicas"), unit.replicas * 2),
                  "metrics": [{"type": "Resource", "resource": {
                      "name": "cpu", "target": {"type": "Utilization",
                                                "averageUtilization": 70}}}]}},
    ]


def ingress_host(project: str) -> Value:
    return Value(("ingress", "host"), f"{project}.example.com")


def _ingress(project: str, edge: Unit) -> dict[str, Any]:
    https = next((p for p in edge.node.ports if p.name == "https"), edge.node.ports[-1])
    host = ingress_host(project)
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {**metadata(project, project),
                     # The edge terminates TLS itself (as in compose): the controller speaks
                     # HTTPS to it. ingress-nginx's annotation; other controllers have their own.
                     "annotations": {"nginx.ingress.kubernetes.io/backend-protocol": "HTTPS"}},
        "spec": {
            "ingressClassName": Value(("ingress", "className"), "nginx"),
            "tls": [{"hosts": [host], "secretName": f"{project}-tls"}],
            "rules": [{"host": host, "http": {"paths": [{
                "path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": edge.name, "port": {"name": https.name}}}}]}}],
        },
    }


def _grpc_ingress(project: str, edge: Unit, packages: list[str]) -> dict[str, Any]:
    """The gRPC paths (`/<package>.<Service>/<Method>`, `/grpc.health…`) to the edge over HTTP/2."""
    ingress = _ingress(project, edge)
    ingress["metadata"] = {**metadata(f"{project}-grpc", project), "annotations": {
        "nginx.ingress.kubernetes.io/backend-protocol": "GRPCS"}}
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    # A Prefix path matches whole segments (`/shop` never matches `/shop.Items/Get`):
    # ImplementationSpecific is ingress-nginx's plain location prefix.
    rule["http"]["paths"] = [{**path, "path": f"/{package}.", "pathType": "ImplementationSpecific"}
                             for package in packages]
    return ingress


def _network_policies(architecture: Architecture, units: list[Unit], edge: Unit | None,
                      report: Report) -> list[dict[str, Any]]:
    project = architecture.name
    policies: list[dict[str, Any]] = [{
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": metadata("default-deny-ingress", project),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}]
    nodes = {u.node.id for u in units}
    for node_id in sorted(nodes):
        node = architecture.node(node_id)
        members = [w for u in units if u.node.id == node_id for w in u.workloads]
        rules: list[dict[str, Any]] = []
        if edge is not None and edge.node.id == node_id:
            rules.append({"ports": [{"port": p.container} for p in node.ports]})
        for e in architecture.edges:
            if e.target == node_id and e.source in nodes:
                rule: dict[str, Any] = {"from": [{"podSelector": {"matchLabels": {
                    "app.kubernetes.io/component": e.source}}}]}
                if e.port:
                    rule["ports"] = [{"port": e.port}]
                rules.append(rule)
        if len(members) > 1 and any(w.stateful for w in members):
            rules.append({"from": [{"podSelector": {"matchLabels": {
                "app.kubernetes.io/component": node_id}}}]})
            for w in members:
                report.changed(w.name, "networks", f"the members of {node_id} reach each other "
                               "(replication, gossip): the model has no edge for it, so the "
                               "exporter adds one")
        if not rules:
            continue
        policies.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": metadata(f"allow-to-{node_id}", project),
            "spec": {"podSelector": {"matchLabels": {"app.kubernetes.io/component": node_id}},
                     "policyTypes": ["Ingress"], "ingress": rules}})
    return policies


def secrets_script(manifests: Manifests, edge_dir: str | None) -> str:
    """`create-secrets.sh`: the Secrets the manifests reference, from the project's private files."""
    project = manifests.project
    lines = [
        "#!/bin/sh",
        "# Creates (or updates) the Secrets the manifests reference, from the rendered project's",
        "# private files: .env and secrets/ (written by `archgen new`) and the edge's TLS pair. No secret",
        "# value is ever written into this folder.",
        "# Usage: ./create-secrets.sh [PROJECT_DIR]   (default: the current directory)",
        "set -eu",
        'project="${1:-.}"',
        f'namespace="${{NAMESPACE:-{project}}}"',
        'apply() { kubectl -n "$namespace" "$@" --dry-run=client -o yaml | kubectl apply -f -; }',
        'kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -',
    ]
    for name, folder in sorted(manifests.secrets.items()):
        if folder == ".env":
            lines.append(f'apply create secret generic {name} --from-env-file="$project/.env"')
        else:
            lines.append(f'apply create secret generic {name} --from-file="$project/{folder}"')
    if edge_dir is not None:
        lines.append(f'apply create secret tls {project}-tls --cert="$project/{edge_dir}/tls/cert.pem"'
                     f' --key="$project/{edge_dir}/tls/key.pem"')
    return "\n".join(lines) + "\n"


def kustomize(manifests: Manifests) -> dict[str, dict[str, Any]]:
    """The kustomize base and the dev / prod overlays (replicas and memory patches)."""
    base = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
            "resources": sorted(manifests.files)}
    dev: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                           "resources": ["../../base"]}
    prod: dict[str, Any] = dict(dev)
    if manifests.replicated:
        dev["replicas"] = [{"name": u.name, "count": 1} for u in manifests.replicated]
        dev["patches"] = [_hpa_patch(u.name, 1, 2) for u in manifests.replicated]
        prod["replicas"] = [{"name": u.name, "count": max(3, u.replicas)}
                            for u in manifests.replicated]
        prod["patches"] = [_hpa_patch(u.name, max(3, u.replicas), max(3, u.replicas) * 3)
                           for u in manifests.replicated]
    patches = []
    for unit in manifests.units:
        if unit.workload.memory and unit.kind != "Job":
            doubled = _double(unit.workload.memory)
            patches.append({"target": {"kind": unit.kind, "name": unit.name}, "patch": "\n".join([
                "- op: replace", "  path: /spec/template/spec/containers/0/resources/limits/memory",
                f"  value: {doubled}",
                "- op: replace", "  path: /spec/template/spec/containers/0/resources/requests/memory",
                f"  value: {doubled}"])})
    prod["patches"] = [*prod.get("patches", []), *patches]
    return {"base/kustomization.yaml": base, "overlays/dev/kustomization.yaml": dev,
            "overlays/prod/kustomization.yaml": prod}


def _hpa_patch(name: str, low: int, high: int) -> dict[str, Any]:
    return {"target": {"kind": "HorizontalPodAutoscaler", "name": name}, "patch": "\n".join([
        "- op: replace", "  path: /spec/minReplicas", f"  value: {low}",
        "- op: replace", "  path: /spec/maxReplicas", f"  value: {high}"])}


def _double(quantity: str) -> str:
    from archgen.export._pods import memory

    text = memory(quantity)
    digits = "".join(c for c in text if c.isdigit())
    return f"{int(digits) * 2}{text[len(digits):]}" if digits and text.startswith(digits) else text


__all__ = ["Manifests", "build", "ingress_host", "kustomize", "secrets_script"]
