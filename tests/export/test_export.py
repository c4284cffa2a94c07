"""`archgen export kubernetes|helm`: valid manifests, a chart, Istio, drift, secrets, edges, report."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.export.kube import (
    ISTIO_API,
    K8S_VERSION,
    documents,
    render_chart,
    validate,
    validate_istio,
)
from tests.helpers import EXAMPLES, mvc_spec, unavailable

SCALED_POSTGRES: dict[str, Any] = {
    "name": "ledger", "architecture": "scaled",
    "load_balancer": {"kind": "nginx", "algorithm": "ip_hash"},
    "app": {"replicas": 2},
    "database": {"engine": "postgres", "replicas": 3},
    "cache": {"engine": "redis", "sentinel": True},
}
MICROSERVICES_WIDE: dict[str, Any] = {
    "name": "bazaar", "architecture": "microservices",
    "gateway": {"kind": "nginx"}, "bus": {"kind": "rabbitmq"},
    "cache": {"rate_limit": {"requests": 50, "window": "10s"}},
    "services": [{"name": "carts", "database": "redis", "publishes": ["cart.checked-out"]},
                 {"name": "graph", "database": "neo4j", "consumes": ["cart.checked-out"]},
                 {"name": "search", "database": "elasticsearch"},
                 {"name": "catalog", "database": "solr"},
                 {"name": "mailer", "database": "none", "consumes": ["cart.checked-out"]}],
    "sagas": [{"name": "checkout", "mode": "choreography", "steps": [
        {"service": "carts", "action": "lock", "compensate": "unlock"},
        {"service": "graph", "action": "link", "compensate": "unlink"}]}],
}
PROJECTS = {"mvc": EXAMPLES / "mvc.yaml", "scaled": EXAMPLES / "scaled.yaml",
            "mvc-mongodb-haproxy": mvc_spec(name="mvc-mongo", proxy={"kind": "haproxy"},
                                            database={"engine": "mongodb"}),
            "mvc-envoy-mysql": mvc_spec(name="mvc-envoy", proxy={"kind": "envoy"},
                                        database={"engine": "mysql"}),
            "mvc-httpd": mvc_spec(name="mvc-httpd", proxy={"kind": "httpd"}),
            "scaled-postgres": SCALED_POSTGRES,
            "microservices": EXAMPLES / "microservices.yaml",
            "microservices-wide": MICROSERVICES_WIDE}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from archgen.render import render_project
    from archgen.spec import load_spec

    root = tmp_path_factory.mktemp("projects")
    rendered = {}
    for name, spec in PROJECTS.items():
        render_project(load_spec(spec) if isinstance(spec, Path) else spec, root / name)
        rendered[name] = root / name
    return rendered


@pytest.fixture(scope="module")
def exports(projects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every project exported to kubernetes and helm, with Istio."""
    from archgen.export import build_export, write_export

    root = tmp_path_factory.mktemp("exports")
    out = {}
    for name, project in projects.items():
        for target in ("kubernetes", "helm"):
            folder = root / f"{name}-{target}"
            write_export(build_export(target, project, istio=True), folder)
            out[f"{name}-{target}"] = folder
    return out


def _base_docs(folder: Path) -> list[dict[str, Any]]:
    return [d for f in sorted((folder / "base").glob("*.yaml")) if f.name != "kustomization.yaml"
            for d in documents(f.read_text())]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("name", list(PROJECTS))
def test_manifests_validate_against_the_kubernetes_schemas(exports: dict[str, Path], name: str) -> None:
    docs = _base_docs(exports[f"{name}-kubernetes"])
    print(f"validated against Kubernetes {K8S_VERSION} (kubernetes-validate, strict) and Istio's "
          f"CRDs from {ISTIO_API}")
    for doc in docs:
        validate(doc)
    kinds = {d["kind"] for d in docs}
    assert {"Namespace", "Deployment", "StatefulSet", "Service", "Ingress", "ConfigMap",
            "NetworkPolicy", "Gateway", "VirtualService", "DestinationRule",
            "PeerAuthentication"} <= kinds


@pytest.mark.parametrize("name", list(PROJECTS))
def test_helm_chart_renders_to_valid_manifests(exports: dict[str, Path], name: str) -> None:
    chart = exports[f"{name}-helm"]
    how, docs = render_chart(chart, "demo")
    warnings.warn(f"export tests: the Helm chart was rendered with {how}; manifests validated "
                  f"against Kubernetes {K8S_VERSION} (kubernetes-validate, strict), Istio "
                  f"resources against the CRD schemas of {ISTIO_API}", stacklevel=1)
    for doc in docs:
        validate(doc)
    assert all(d["metadata"].get("namespace") == "demo" for d in docs if d["kind"] != "Namespace")
    plain = {(d["kind"], d["metadata"]["name"]) for d in _base_docs(exports[f"{name}-kubernetes"])}
    rendered = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert rendered == plain - {k for k in plain if k[0] == "Namespace"}
    from tests.export.kube import helm_binary

    helm = helm_binary()
    if helm is not None:
        lint = subprocess.run([helm, "lint", "--strict", str(chart)], capture_output=True,
                              text=True, timeout=300)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    values = yaml.safe_load((chart / "values.yaml").read_text())
    assert values["ingress"]["host"] and values["istio"]["enabled"] is True
    assert all("image" in w for w in values["workloads"].values())
    jobs = set(_by_kind(docs, "Job"))
    assert all("replicas" in w for n, w in values["workloads"].items() if n not in jobs)


def test_helm_values_change_the_rendering(exports: dict[str, Path], tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    shutil.copytree(exports["scaled-helm"], chart)
    values = yaml.safe_load((chart / "values.yaml").read_text())
    values["workloads"]["app"]["replicas"] = 5
    values["workloads"]["app"]["image"] = "registry.example.com/shop/app:1.0"
    values["istio"]["enabled"] = False
    (chart / "values.yaml").write_text(yaml.safe_dump(values))
    _, docs = render_chart(chart, "demo")
    app = _by_kind(docs, "Deployment")["app"]
    assert app["spec"]["replicas"] == 5
    assert app["spec"]["template"]["spec"]["containers"][0]["image"].startswith("registry.example")
    assert not any(d["apiVersion"].endswith("istio.io/v1") for d in docs)


@pytest.mark.parametrize("overlay,replicas", [("dev", 1), ("prod", 3)])
def test_kustomize_overlays_build(exports: dict[str, Path], overlay: str, replicas: int) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable("no kubectl to run `kubectl kustomize` with")
    folder = exports["scaled-kubernetes"] / "overlays" / overlay
    done = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    docs = documents(done.stdout)
    for doc in docs:
        validate(doc)
    assert _by_kind(docs, "Deployment")["app"]["spec"]["replicas"] == replicas
    assert _by_kind(docs, "HorizontalPodAutoscaler")["app"]["spec"]["minReplicas"] == replicas
    memory = _by_kind(docs, "StatefulSet")["db-1"]["spec"]["template"]["spec"]["containers"][0][
        "resources"]["limits"]["memory"]
    assert memory == ("1Gi" if overlay == "dev" else "2Gi")


def test_workloads_map_to_the_right_controllers(exports: dict[str, Path]) -> None:
    docs = _base_docs(exports["scaled-kubernetes"])
    deployments, statefulsets = _by_kind(docs, "Deployment"), _by_kind(docs, "StatefulSet")
    services = _by_kind(docs, "Service")
    assert set(deployments) == {"lb", "app"}
    assert deployments["app"]["spec"]["replicas"] == 3
    assert set(statefulsets) == {"db-1", "db-2", "db-3", "redis-1", "redis-2", "sentinel-1",
                                 "sentinel-2", "sentinel-3"}
    for name, sts in statefulsets.items():
        claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
        mounts = sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        assert claims and all(m["subPath"] == "data" for m in mounts if m["name"] in claims)
        assert services[name]["spec"]["clusterIP"] == "None"
        assert sts["spec"]["serviceName"] == name
    assert set(_by_kind(docs, "Job")) == {"db-init"}
    assert set(_by_kind(docs, "PodDisruptionBudget")) == set(_by_kind(docs, "HorizontalPodAutoscaler")) \
        == {"app"}
    assert {"app", "app-1", "app-2", "app-3"} <= set(services)  # the edge config names app-N
    mvc = _base_docs(exports["mvc-kubernetes"])
    assert "app-test" not in {d["metadata"]["name"] for d in mvc}  # profile test: skipped
    ingress = _by_kind(mvc, "Ingress")["shop"]
    assert ingress["spec"]["tls"][0]["secretName"] == "shop-tls"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "proxy", "port": {"name": "https"}}


def test_pods_carry_probes_security_and_config(exports: dict[str, Path], projects: dict[str, Path]) -> None:
    docs = _base_docs(exports["mvc-kubernetes"])
    app = _by_kind(docs, "Deployment")["app"]["spec"]["template"]["spec"]
    container = app["containers"][0]
    assert container["securityContext"] == {
        "runAsUser": 10001, "runAsNonRoot": True, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}, "allowPrivilegeEscalation": False}
    assert {"name": "tmpfs-0", "emptyDir": {"medium": "Memory"}} in app["volumes"]
    assert app["terminationGracePeriodSeconds"] == 10
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container)
    env = {e["name"]: e for e in container["env"]}
    # No password in the environment: its path, a key of the mounted Secret shop-secrets.
    assert env["APP_DATABASE_URL"]["value"] == "mongodb://app@db:27017/app?authSource=app"
    assert env["APP_DATABASE_PASSWORD_FILE"]["value"] == "/run/secrets/mongo_app_password"
    assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in container["env"])
    volume = next(v for v in app["volumes"] if v["name"] == "secrets")
    assert volume["secret"]["secretName"] == "shop-secrets"
    assert {i["key"] for i in volume["secret"]["items"]} == {"mongo_app_password", "redis_password"}
    assert {"name": "secrets", "mountPath": "/run/secrets", "readOnly": True} in \
        container["volumeMounts"]
    for pod in (d["spec"]["template"]["spec"] for d in docs if d["kind"] in
                ("Deployment", "StatefulSet", "Job")):
        for mount in pod["containers"][0].get("volumeMounts", []):
            assert ":" not in mount["mountPath"]  # tmpfs options are not part of the path
    assert _by_kind(docs, "Service")["proxy"]["spec"]["clusterIP"] == "None"
    redis = _by_kind(docs, "StatefulSet")["redis"]["spec"]["template"]["spec"]["containers"][0]
    probe = redis["readinessProbe"]["exec"]["command"]
    # kubelet turns `$$(` into `$(` (and would expand a bare `$(NAME)` itself): the shell
    # gets the command substitution that reads the secret file.
    assert probe[:2] == ["sh", "-c"] and '"$$(cat "${REDIS_PASSWORD_FILE}")"' in probe[2]
    assert "$$" not in probe[2].replace("$$(", "$(")
    assert "$$" not in " ".join(redis["args"]).replace("$$(", "$(")
    nginx_conf = _by_kind(docs, "ConfigMap")["proxy-files"]["data"]["nginx.conf"]
    original = (projects["mvc"] / "proxy" / "nginx.conf").read_text()
    assert nginx_conf == original.replace(
        "resolver 127.0.0.11 ", "resolver kube-dns.kube-system.svc.cluster.local ").replace(
        " app:8000", " app.shop.svc.cluster.local:8000")


def test_the_edge_config_uses_the_cluster_dns(exports: dict[str, Path]) -> None:
    haproxy = _by_kind(_base_docs(exports["scaled-kubernetes"]), "ConfigMap")["lb-files"]["data"][
        "haproxy.cfg"]
    assert "127.0.0.11" not in haproxy and "parse-resolv-conf" in haproxy
    for n in (1, 2, 3):
        assert f"server app-{n} app-{n}.shop-scaled.svc.cluster.local:8000" in haproxy
    _, docs = render_chart(exports["scaled-helm"], "other")
    haproxy = _by_kind(docs, "ConfigMap")["lb-files"]["data"]["haproxy.cfg"]
    assert "server app-1 app-1.other.svc.cluster.local:8000" in haproxy


def test_network_policies_follow_the_edges(exports: dict[str, Path]) -> None:
    from archgen.model import resolve
    from archgen.spec import load_spec

    for name, spec in (("scaled", EXAMPLES / "scaled.yaml"), ("mvc", EXAMPLES / "mvc.yaml")):
        architecture = resolve(load_spec(spec))
        policies = _by_kind(_base_docs(exports[f"{name}-kubernetes"]), "NetworkPolicy")
        assert policies.pop("default-deny-ingress")["spec"] == {"podSelector": {},
                                                                "policyTypes": ["Ingress"]}
        edge = next(w.node for w in architecture.workloads if w.ports)
        for policy_name, policy in policies.items():
            target = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            assert policy_name == f"allow-to-{target}"
            admitted = set()
            for rule in policy["spec"]["ingress"]:
                ports = [p["port"] for p in rule.get("ports", [])] or [None]
                peers = [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                         for p in rule.get("from", [])] or ["*"]
                admitted |= {(peer, port) for peer in peers for port in ports}
            expected = {(e.source, e.port) for e in architecture.edges if e.target == target}
            if target == edge:
                expected |= {("*", p.container) for p in architecture.node(edge).ports}
            members = [w for w in architecture.workloads if w.node == target]
            if len(members) > 1 and any(w.stateful for w in members):
                expected.add((target, None))  # replication between the members
            assert admitted == expected, policy_name
        # the databases admit only their owner (and the replica-set init job)
        db = policies["allow-to-db"]["spec"]["ingress"]
        sources = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                   for r in db for p in r["from"]}
        assert sources <= {"app", "db-init", "db"}
        assert ("*", 8443) not in admitted


def test_no_secret_value_is_written(exports: dict[str, Path], projects: dict[str, Path]) -> None:
    for name, project in projects.items():
        secrets = [p.read_text() for p in (project / "secrets").iterdir()]
        assert secrets, name
        edge_dir = next(p.parent.parent.name for p in project.glob("*/tls/key.pem"))
        key = (project / edge_dir / "tls" / "key.pem").read_text().splitlines()[1]
        for target in ("kubernetes", "helm"):
            for file in (exports[f"{name}-{target}"]).rglob("*"):
                if file.is_file():
                    text = file.read_text()
                    for secret in [*secrets, key]:
                        assert secret not in text, f"a secret of the project is in {file}"
            assert not list(exports[f"{name}-{target}"].rglob("*.pem"))


def test_create_secrets_script_reads_the_project(exports: dict[str, Path],
                                                 projects: dict[str, Path]) -> None:
    script = (exports["mvc-kubernetes"] / "create-secrets.sh").read_text()
    assert subprocess.run(["sh", "-n", str(exports["mvc-kubernetes"] / "create-secrets.sh")]).returncode == 0
    assert 'create secret generic shop-secrets --from-file="$project/secrets"' in script
    assert "--from-env-file" not in script  # .env holds settings only: no Secret of its own
    assert "create secret tls shop-tls" in script and "proxy-tls" in script
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return
    done = subprocess.run([kubectl, "create", "secret", "generic", "shop-secrets",
                           "--dry-run=client", "-o", "yaml",
                           f"--from-file={projects['mvc'] / 'secrets'}"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    keys = set(yaml.safe_load(done.stdout)["data"])
    deployment = _by_kind(_base_docs(exports["mvc-kubernetes"]), "Deployment")["app"]
    volume = next(v for v in deployment["spec"]["template"]["spec"]["volumes"]
                  if v["name"] == "secrets")
    refs = {item["key"] for item in volume["secret"]["items"]}
    assert refs and refs <= keys


def test_istio_carries_the_balancing_algorithm(exports: dict[str, Path]) -> None:
    docs = _base_docs(exports["scaled-postgres-kubernetes"])
    rules = _by_kind(docs, "DestinationRule")
    assert rules["app"]["spec"]["trafficPolicy"]["loadBalancer"] == {
        "consistentHash": {"useSourceIp": True}}
    assert "outlierDetection" in rules["app"]["spec"]["trafficPolicy"]
    assert _by_kind(docs, "PeerAuthentication")["default"]["spec"] == {"mtls": {"mode": "STRICT"}}
    assert _by_kind(docs, "VirtualService")["app"]["spec"]["http"][0]["retries"]["attempts"] >= 1
    for doc in docs:
        if doc["apiVersion"].endswith("istio.io/v1"):
            validate_istio(doc)


@pytest.mark.parametrize("algorithm,expected", [
    ("round_robin", {"simple": "ROUND_ROBIN"}), ("least_conn", {"simple": "LEAST_REQUEST"}),
    ("weighted", {"simple": "ROUND_ROBIN"})])
def test_istio_algorithms(algorithm: str, expected: dict[str, Any]) -> None:
    from archgen.export.istio import load_balancer
    from archgen.export.report import Report

    report = Report("istio")
    assert load_balancer(algorithm, report, "lb") == expected
    assert bool(report.lines) == (algorithm == "weighted")


def test_cli_writes_checks_and_reports(cli: Any, projects: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "k8s"
    result = cli("export", "kubernetes", projects["mvc"], "-o", out)
    assert result.exit_code == 0, result.stderr
    assert "app-test:" in result.stderr and "skipped" in result.stderr
    assert "init: no init option" in result.stderr
    assert "stop_grace_period: terminationGracePeriodSeconds" in result.stderr
    assert "ConfigMap proxy-files" in result.stderr
    assert (out / "create-secrets.sh").stat().st_mode & 0o111
    assert cli("export", "kubernetes", projects["mvc"], "--check", out).exit_code == 0
    (out / "base" / "app.yaml").write_text("tampered\n")
    (out / "base" / "extra.yaml").write_text("x: 1\n")
    drift = cli("export", "kubernetes", projects["mvc"], "--check", out, "--json")
    assert drift.exit_code == 1
    actions = {f["path"]: f["action"] for f in drift.json["files"]}
    assert actions == {"base/app.yaml": "differs", "base/extra.yaml": "extra"}
    assert cli("export", "kubernetes", projects["mvc"], "-o", out).exit_code == 0  # rewritten
    assert not (out / "base" / "extra.yaml").exists()
    assert cli("export", "kubernetes", projects["mvc"], "--check", out).exit_code == 0


def test_cli_json_report_names_every_workload(cli: Any, projects: dict[str, Path],
                                              tmp_path: Path) -> None:
    from archgen.model import resolve
    from archgen.spec import load_spec

    result = cli("export", "helm", projects["scaled"], "-o", tmp_path / "chart", "--json")
    assert result.exit_code == 0, result.stderr
    report = result.json["report"]
    workloads = {w.name for w in resolve(load_spec(projects["scaled"] / "archgen.yaml")).workloads}
    assert workloads - {"app-1", "app-2", "app-3"} <= set(report["workloads"])
    assert report["counts"]["unmapped"] > 0
    lines = [line for entries in report["workloads"].values() for line in entries]
    assert all(line["note"] for line in lines)
    assert any(line["setting"] == "build" and line["status"] == "unmapped" for line in lines)


def test_export_from_a_spec_equals_export_from_its_project(cli: Any, projects: dict[str, Path],
                                                           exports: dict[str, Path]) -> None:
    result = cli("export", "kubernetes", EXAMPLES / "scaled.yaml", "--check",
                 exports["scaled-kubernetes"], "--istio")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("name", ["microservices", "microservices-wide"])
def test_each_database_admits_only_its_owner(exports: dict[str, Path], projects: dict[str, Path],
                                             name: str) -> None:
    """Compose gives each database a network only its owner joins; NetworkPolicies keep that."""
    from archgen.model import resolve
    from archgen.spec import load_spec

    spec = load_spec(projects[name] / "archgen.yaml")
    architecture = resolve(spec)
    policies = _by_kind(_base_docs(exports[f"{name}-kubernetes"]), "NetworkPolicy")
    owners = {s["name"] for s in spec.data["services"]} | {"sagas"}
    for owner in owners:
        if f"{owner}-db" in {node.id for node in architecture.nodes}:
            rules = policies[f"allow-to-{owner}-db"]["spec"]["ingress"]
            peers = {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                     for rule in rules for p in rule["from"]}
            assert peers == {owner}, owner
        service = policies[f"allow-to-{owner}"]["spec"]["ingress"]
        assert {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
                for rule in service for p in rule["from"]} == {"gateway"}
    bus = policies["allow-to-bus"]["spec"]["ingress"]
    assert {p["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for rule in bus for p in rule["from"]} <= owners
    assert all("from" in rule for name_, p in policies.items() if name_ != "allow-to-gateway"
               for rule in p["spec"].get("ingress", []))  # only the gateway is open to all


def test_bad_arguments(cli: Any, projects: dict[str, Path], tmp_path: Path) -> None:
    assert cli("export", "nomad", projects["mvc"], "-o", tmp_path / "x").exit_code == 2
    assert cli("export", "helm", projects["mvc"]).exit_code == 2
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("keep")
    assert cli("export", "helm", projects["mvc"], "-o", foreign).exit_code == 2
    assert (foreign / "mine.txt").read_text() == "keep"


def test_rendering_is_deterministic(projects: dict[str, Path]) -> None:
    from archgen.export import build_export

    first = build_export("helm", projects["scaled-postgres"], istio=True).files
    assert first == build_export("helm", projects["scaled-postgres"], istio=True).files
    assert not any(re.search(r"/tmp/|/work/", text) for text in first.values())


def test_values_substitution_matches_helm_template(exports: dict[str, Path]) -> None:
    from tests.export.kube import helm_binary, substitute

    if helm_binary() is None:
        unavailable("no helm binary: the substitution helper is what renders the chart")
    chart = exports["scaled-postgres-helm"]
    _, by_helm = render_chart(chart, "demo")
    values = yaml.safe_load((chart / "values.yaml").read_text())
    by_helper = [d for t in sorted((chart / "templates").glob("*.yaml"))
                 for d in documents(substitute(t.read_text(), values, "demo"))]
    key = lambda d: (d["kind"], d["metadata"]["name"])  # noqa: E731
    assert sorted(by_helm, key=key) == sorted(by_helper, key=key)


def _settings(workload: Any) -> set[str]:
    """The report's name for every setting a workload carries."""
    w, s = workload, workload.security
    found = {"image", "restart", "healthcheck", "memory"}
    found |= {f"environment.{k}" for k, _ in w.environment}
    found |= {f"ports.{p.name}" for p in w.ports} | {f"volumes.{m.source}" for m in w.mounts}
    found |= {f"tmpfs.{p}" for p in s.tmpfs}
    optional = {"build": w.build, "command": w.command, "entrypoint": w.entrypoint,
                "depends_on": w.depends_on, "init": w.init, "networks": w.networks,
                "profiles": w.profiles, "stop_grace_period": w.stop_grace_period,
                "labels": w.labels, "user": s.user, "read_only": s.read_only,
                "cap_drop/cap_add": s.cap_drop or s.cap_add, "security": s.reason,
                "security_opt.no-new-privileges": s.no_new_privileges}
    return found | {k for k, v in optional.items() if v}


@pytest.mark.parametrize("name", list(PROJECTS))
def test_no_setting_is_dropped_silently(projects: dict[str, Path], name: str) -> None:
    from archgen.export import build_export
    from archgen.export._units import units_of
    from archgen.model import resolve
    from archgen.spec import load_spec

    architecture = resolve(load_spec(projects[name] / "archgen.yaml"))
    report = build_export("kubernetes", projects[name]).report
    seen: dict[str, set[str]] = {}
    for line in report.lines:
        seen.setdefault(line.workload, set()).add(line.setting)
    units, skipped = units_of(architecture)
    unit_of = {w.name: u.name for u in units for w in u.workloads}
    for workload in architecture.workloads:
        if workload in skipped:
            assert "*" in seen[workload.name]
            continue
        missing = _settings(workload) - seen[unit_of[workload.name]]
        assert not missing, f"{workload.name}: not in the report: {sorted(missing)}"


def test_a_missing_mounted_file_writes_nothing(cli: Any, projects: dict[str, Path],
                                               tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(projects["mvc"], project)
    (project / "proxy" / "nginx.conf").unlink()
    result = cli("export", "kubernetes", project, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert "./proxy/nginx.conf is mounted but missing" in result.stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".archgen-export-")]


def test_compose_escapes_become_kubernetes_escapes() -> None:
    from archgen.export._pods import memory, shell

    assert shell('redis-server --requirepass "$$REDIS_PASSWORD"') == \
        'redis-server --requirepass "$REDIS_PASSWORD"'
    assert shell("echo $(date)") == "echo $$(date)"  # kubelet must not expand it
    assert [memory(m) for m in ("128M", "1G", "64m", "512k", "1gb")] == \
        ["128Mi", "1Gi", "64Mi", "512Ki", "1Gi"]


def test_a_changed_config_file_rolls_its_pods(projects: dict[str, Path], tmp_path: Path) -> None:
    from archgen.export import build_export

    def hashes(project: Path) -> dict[str, str]:
        docs = documents(build_export("kubernetes", project).files["base/db.yaml"])
        sts = _by_kind(docs, "StatefulSet")["db"]
        return dict(sts["spec"]["template"]["metadata"]["annotations"])

    project = tmp_path / "project"
    shutil.copytree(projects["mvc"], project)
    before = hashes(project)
    script = project / "db" / "app-user.js"
    script.write_text(script.read_text() + "\n# edited\n")
    assert hashes(project)["archgen.io/config-hash"] != before["archgen.io/config-hash"]


@pytest.mark.parametrize("name,edge,config", [("mvc-envoy-mysql", "proxy", "envoy.yaml"),
                                              ("mvc-httpd", "proxy", "httpd.conf")])
def test_edges_that_read_resolv_conf_keep_their_config(exports: dict[str, Path],
                                                       projects: dict[str, Path], name: str,
                                                       edge: str, config: str) -> None:
    docs = _base_docs(exports[f"{name}-kubernetes"])
    data = _by_kind(docs, "ConfigMap")[f"{edge}-files"]["data"]
    assert data[config] == (projects[name] / edge / config).read_text()


@pytest.mark.parametrize("name", list(PROJECTS))
def test_swarm_mounts_every_secret_a_file_variable_names(projects: dict[str, Path], name: str) -> None:
    """Each `*_FILE=/run/secrets/<name>` has that swarm secret mounted, made from a project file."""
    import yaml

    from archgen.export import build_export

    project = projects[name]
    export = build_export("swarm", project)
    doc = yaml.safe_load(export.files["stack.yaml"])
    values = [p.read_text().strip() for p in (project / "secrets").iterdir()]
    assert values and not any(v in export.files["stack.yaml"] for v in values)
    for service, body in doc["services"].items():
        mounted = {s["target"] for s in body.get("secrets", [])}
        for key, value in (body.get("environment") or {}).items():
            if str(value).startswith("/run/secrets/"):
                assert str(value).removeprefix("/run/secrets/") in mounted, (service, key)
        assert "archgen-secrets" not in str(body.get("entrypoint")), service
    script = export.files["create-secrets.sh"]
    for key, spec in doc.get("secrets", {}).items():
        assert spec["external"] and f"create {spec['name']} < " in script, key
    for line in script.splitlines():
        if line.startswith("create ") and "<" in line:
            source = line.split('"$project/', 1)[1].rstrip('"')
            assert (project / source).is_file(), source


@pytest.mark.parametrize("name", ["microservices", "microservices-wide"])
def test_swarm_gives_each_database_an_internal_network_of_its_owner(projects: dict[str, Path],
                                                                    name: str) -> None:
    from archgen.export import build_export

    doc = yaml.safe_load(build_export("swarm", projects[name]).files["stack.yaml"])
    data_networks = [n for n in doc["networks"] if n.endswith("-data")]
    assert data_networks
    for network in data_networks:
        owner = network.removesuffix("-data")
        assert doc["networks"][network]["internal"] is True
        members = {s for s, body in doc["services"].items() if network in (body.get("networks") or {})}
        assert members == {owner, f"{owner}-db"}, network
    # RabbitMQ's management UI was bound to 127.0.0.1: swarm cannot, so it is not published.
    published = {s for s, body in doc["services"].items() if body.get("ports")}
    assert published == {"gateway"}
