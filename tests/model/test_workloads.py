"""The workloads the model builds: what runs, published where, with which secrets and checks."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.model import Architecture, resolve_data
from archgen.model.common import from_secret_files
from archgen.render.compose import compose_data, scalar, service_lines
from archgen.runtime.compose import load_project
from archgen.spec import spec_from_data
from archgen.variables import POSTGRES_PASSWORD, Secret, Text, Var, compose_value

SPECS: dict[str, dict[str, Any]] = {
    "mvc-postgres": {"name": "shop", "architecture": "mvc", "database": {"engine": "postgres"}},
    "mvc-mysql-haproxy": {"name": "shop", "architecture": "mvc", "proxy": {"kind": "haproxy"},
                          "database": {"engine": "mysql"}},
    "mvc-mongodb-envoy": {"name": "shop", "architecture": "mvc", "proxy": {"kind": "envoy"}},
    "scaled-mongodb": {"name": "shop", "architecture": "scaled"},
    "scaled-postgres-nginx": {"name": "shop", "architecture": "scaled",
                              "load_balancer": {"kind": "nginx"},
                              "database": {"engine": "postgres", "replicas": 2},
                              "cache": {"sentinel": False}},
    "microservices-rabbitmq-nginx": {
        "name": "shop", "architecture": "microservices", "gateway": {"kind": "nginx"},
        "bus": {"kind": "rabbitmq"},
        "services": [{"name": "orders"}, {"name": "stock", "database": "mongodb"},
                     {"name": "search", "database": "elasticsearch"},
                     {"name": "cart", "database": "redis"}, {"name": "notes", "database": "none"}],
        "sagas": [{"name": "buy", "steps": [{"service": "orders", "action": "create"}]}]},
}


def _model(name: str) -> Architecture:
    return resolve_data(spec_from_data(SPECS[name]).data)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_only_the_edge_publishes_ports_beside_the_local_uis(name: str) -> None:
    architecture = _model(name)
    edge = architecture.context["edge"]["service"]
    published = {w.name for w in architecture.workloads if w.ports}
    uis = {ui["service"] for ui in architecture.context.get("uis", [])}
    assert published == {edge} | uis
    assert all(p.bind == "127.0.0.1" for w in architecture.workloads if w.name != edge
               for p in w.ports)


def test_rabbitmq_management_is_a_local_ui_on_its_port_and_labelled() -> None:
    data = {**SPECS["microservices-rabbitmq-nginx"], "ui_ports": {"rabbitmq": 25672}}
    architecture = resolve_data(spec_from_data(data).data)
    bus = next(w for w in architecture.workloads if w.name == "bus")
    assert [(p.container, p.published, p.bind) for p in bus.ports] == [(15672, 25672, "127.0.0.1")]
    assert ("io.archgen.ui.url", "http://127.0.0.1:25672") in bus.labels
    assert ("io.archgen.ui.key", "ui_ports.rabbitmq") in bus.labels  # named if the port is taken
    assert [ui["name"] for ui in architecture.context["uis"]] == ["RabbitMQ management"]
    node = next(n for n in architecture.nodes if n.id == "bus")
    assert [(p.name, p.published) for p in node.ports if p.published] == [("management", 25672)]


def test_kafka_has_no_local_ui() -> None:
    data = {**SPECS["microservices-rabbitmq-nginx"], "bus": {"kind": "kafka"}}
    architecture = resolve_data(spec_from_data(data).data)
    assert architecture.context["uis"] == []
    assert not next(w for w in architecture.workloads if w.name == "bus").ports


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_workload_is_checked_or_is_a_job(name: str) -> None:
    for workload in _model(name).workloads:
        assert workload.healthcheck is not None or workload.job, workload.name


@pytest.mark.parametrize("name", sorted(SPECS))
def test_secrets_are_references_never_values(name: str) -> None:
    for workload in _model(name).workloads:
        for key, value in workload.environment:
            if "PASSWORD" in key or "KEY" in key:
                # Only a file's path: the image reads the password from the mounted secret.
                assert key.endswith("_FILE") and isinstance(value, Secret), (workload.name, key)
                assert value in workload.secrets
            if key.endswith("_URL"):  # a connection URL carries no password, not even a reference
                # (a setting such as the bus's user name may be a reference)
                assert ":$" not in compose_value(value).split("://", 1)[-1], (workload.name, key)
            assert not (isinstance(value, Var) and value.secret), (workload.name, key)
            assert not (isinstance(value, Text) and any(v.secret for v in value.variables))


def test_a_secret_is_a_name_a_variable_and_a_path() -> None:
    name, variable, target = POSTGRES_PASSWORD
    assert (name, variable, target) == ("postgres_password", "POSTGRES_PASSWORD",
                                        "/run/secrets/postgres_password")
    assert POSTGRES_PASSWORD.file == "./secrets/postgres_password"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_node_names_its_workloads_and_every_workload_a_node(name: str) -> None:
    architecture = _model(name)
    nodes = {n.id for n in architecture.nodes}
    assert {w.node for w in architecture.workloads} <= nodes
    running = {s for n in architecture.nodes for s in n.services}
    assert running == {w.name for w in architecture.workloads}
    assert len(running) == len(architecture.workloads)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_dependencies_name_workloads_of_the_same_project(name: str) -> None:
    architecture = _model(name)
    names = {w.name for w in architecture.workloads}
    for workload in architecture.workloads:
        assert {d.service for d in workload.depends_on} <= names - {workload.name}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_written_compose_file_loads_in_the_runtime_as_the_model_says(
        name: str, tmp_path: Path) -> None:
    architecture = _model(name)
    data = compose_data(architecture)
    lines = ["name: shop", "services:"]
    for service in data["services"]:
        lines += [*service["comment"], f"  {service['name']}:", service["body"]]
    lines += ["networks:", *[f"  {n}: {{}}" for n in data["networks"]]]
    lines += ["volumes:", *[f"  {v}: {{}}" for v in data["volumes"]]]
    lines += ["secrets:", *[f"  {s['name']}: {{file: {s['file']}}}" for s in data["secrets"]]]
    (tmp_path / "compose.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for workload in architecture.workloads:  # the build contexts the app workloads name
        if workload.build is not None:
            (tmp_path / workload.build.context).mkdir(parents=True, exist_ok=True)
    (tmp_path / "secrets").mkdir()
    for item in data["secrets"]:
        (tmp_path / "secrets" / item["name"]).write_text("s3cret")
    settings = {v["name"]: "value" for v in data["variables"]}
    project = load_project(tmp_path, environ=settings, profiles=("test",))
    assert set(project.services) == {w.name for w in architecture.workloads}
    for workload in architecture.workloads:
        service = project.services[workload.name]
        assert service.read_only == workload.security.read_only
        assert [(p.published, p.target) for p in service.ports] == [
            (p.published, p.container) for p in workload.ports]
        assert {d.service for d in service.depends_on} == {d.service for d in workload.depends_on}
        for key, value in service.environment.items():
            assert "${" not in value, (workload.name, key)
            assert "s3cret" not in value, (workload.name, key)
        # Each secret bind-mounted read-only from its file, where `*_FILE` says.
        assert [(f.kind, f.target, f.source) for f in service.files] == [
            ("secret", item.target, str(tmp_path / "secrets" / item.name))
            for item in workload.secrets]


@pytest.mark.parametrize("text", ["22:22", "yes", "no", "on", "0", "1.5", "null", "~", "true",
                                  "a: b", "#x", "x #y", "*ref", "", " lead", "@x", "{a}"])
def test_scalars_that_yaml_could_misread_are_quoted(text: str) -> None:
    assert yaml.safe_load(f"k: {scalar(text)}")["k"] == text


def test_the_writer_prints_a_workloads_comments_above_its_keys() -> None:
    edge = next(w for w in _model("mvc-mysql-haproxy").workloads if w.name == "proxy")
    lines = service_lines(edge)
    user = lines.index('    user: "0"')
    assert lines[user - 1].lstrip().startswith("# Starts as root only to read the 0600 TLS key")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_workload_carries_its_catalog_hardening(name: str) -> None:
    from archgen.catalog import CATALOG

    for workload in _model(name).workloads:
        security, hardening = workload.security, CATALOG[workload.kind].hardening
        assert security.cap_drop == ("ALL",) and security.no_new_privileges, workload.name
        assert security.cap_add == hardening.cap_add, workload.name
        assert security.read_only == hardening.read_only, workload.name
        assert set(hardening.tmpfs) <= set(security.tmpfs), workload.name
        if security.cap_add or not security.read_only:
            assert security.reason, f"{workload.name}: an exception without a reason"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_the_compose_file_carries_every_workloads_hardening(name: str) -> None:
    architecture = _model(name)
    for workload in architecture.workloads:
        body = yaml.safe_load("\n".join(service_lines(workload)))
        assert body["cap_drop"] == ["ALL"]
        assert body["security_opt"] == ["no-new-privileges:true"]
        assert body.get("cap_add", []) == list(workload.security.cap_add)
        assert body.get("read_only", False) == workload.security.read_only


def test_images_without_a_file_contract_get_their_secret_from_a_wrapper(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret")
    argv = from_secret_files(("KC_BOOTSTRAP_ADMIN_PASSWORD",), ("/usr/bin/env",))
    # As compose hands it to the container: `$$` is a literal `$`.
    argv = tuple(part.replace("$$", "$") for part in argv)
    done = subprocess.run(argv, env={"KC_BOOTSTRAP_ADMIN_PASSWORD_FILE": str(secret),
                                     "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, check=True)
    assert "KC_BOOTSTRAP_ADMIN_PASSWORD=s3cret" in done.stdout.splitlines()
    assert "KC_BOOTSTRAP_ADMIN_PASSWORD_FILE" not in done.stdout
