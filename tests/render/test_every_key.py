"""No key accepted and ignored: every key of the schema changes the render or is refused (exit 2)."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from archgen.errors import ArchgenError, ExitCode
from archgen.render import Renderer
from archgen.resources import schema_path
from archgen.spec import spec_from_data

ARCHITECTURES = ("mvc", "scaled", "microservices")
BASELINES: dict[str, dict[str, Any]] = {
    "mvc": {"name": "shop", "architecture": "mvc"},
    "scaled": {"name": "shop", "architecture": "scaled"},
    "microservices": {"name": "shop", "architecture": "microservices",
                      "services": [{"name": "orders"}]},
}
ENTITY = {"name": "order", "fields": {"total": "float"}}

# key path -> what to merge into the baseline to set that key to something other than its
# default. A tuple (base, variant) compares two specs that differ only in that key, for keys
# that need a companion setting (weights need the weighted algorithm).
VARIANTS: dict[str, Any] = {
    "name": {"name": "other"},
    "architecture": {"architecture": "scaled"},  # from mvc; from the others, see OTHER_ARCHITECTURE
    "description": {"description": "A shop that sells lamps."},
    "proxy": {"proxy": {"kind": "haproxy"}},
    "proxy.kind": {"proxy": {"kind": "envoy"}},
    "proxy.http_port": {"proxy": {"http_port": 8081}},
    "proxy.https_port": {"proxy": {"https_port": 8444}},
    "proxy.bind": {"proxy": {"bind": "0.0.0.0"}},
    "proxy.body_limit_mb": {"proxy": {"body_limit_mb": 20}},
    "proxy.timeout": {"proxy": {"timeout": "30s"}},
    "load_balancer": {"load_balancer": {"kind": "nginx"}},
    "load_balancer.kind": {"load_balancer": {"kind": "envoy"}},
    "load_balancer.http_port": {"load_balancer": {"http_port": 8081}},
    "load_balancer.https_port": {"load_balancer": {"https_port": 8444}},
    "load_balancer.bind": {"load_balancer": {"bind": "0.0.0.0"}},
    "load_balancer.body_limit_mb": {"load_balancer": {"body_limit_mb": 20}},
    "load_balancer.timeout": {"load_balancer": {"timeout": "30s"}},
    "load_balancer.algorithm": {"load_balancer": {"algorithm": "least_conn"}},
    "gateway": {"gateway": {"kind": "nginx"}},
    "gateway.kind": {"gateway": {"kind": "nginx"}},
    "gateway.http_port": {"gateway": {"http_port": 8081}},
    "gateway.https_port": {"gateway": {"https_port": 8444}},
    "gateway.bind": {"gateway": {"bind": "0.0.0.0"}},
    "gateway.body_limit_mb": {"gateway": {"body_limit_mb": 20}},
    "gateway.timeout": {"gateway": {"timeout": "30s"}},
    "app": {"app": {"entities": [ENTITY]}},
    "app.api": {"app": {"api": ["rest", "graphql"]}},
    "app.entities": {"app": {"entities": [ENTITY]}},
    "app.entities.[].name": {"app": {"entities": [{**ENTITY, "name": "invoice"}]}},
    "app.entities.[].plural": {"app": {"entities": [{**ENTITY, "plural": "orderz"}]}},
    "app.entities.[].fields": {"app": {"entities": [{**ENTITY, "fields": {"total": "int"}}]}},
    "app.replicas": {"app": {"replicas": 2}},
    "app.weights": ({"load_balancer": {"algorithm": "weighted"}, "app": {"weights": [1, 1, 1]}},
                    {"load_balancer": {"algorithm": "weighted"}, "app": {"weights": [3, 1, 1]}}),
    "database": {"database": {"engine": "postgres"}},
    "database.engine": {"database": {"engine": "postgres"}},
    "database.replicas": {"database": {"replicas": 5}},
    "database.name": {"database": {"name": "shopdb"}},
    "cache": {"cache": {"ttl": "10s"}},
    "cache.engine": None,  # the schema allows one value, the default: nothing to choose
    "cache.rate_limit": {"cache": {"rate_limit": {"requests": 5}}},
    "cache.rate_limit.requests": {"cache": {"rate_limit": {"requests": 5}}},
    "cache.rate_limit.window": {"cache": {"rate_limit": {"window": "10s"}}},
    "cache.rate_limit.on_unavailable": {"cache": {"rate_limit": {"on_unavailable": "deny"}}},
    "cache.ttl": {"cache": {"ttl": "10s"}},
    "cache.sentinel": {"cache": {"sentinel": False}},
    "auth": {"auth": {"provider": "keycloak"}},
    "auth.provider": {"auth": {"provider": "keycloak"}},
    "auth.realm": {"auth": {"realm": "market"}},
    "bus": {"bus": {"kind": "rabbitmq"}},
    "bus.kind": {"bus": {"kind": "rabbitmq"}},
    "services": {"services": [{"name": "orders"}, {"name": "payments"}]},
    "services.[].name": {"services": [{"name": "billing"}]},
    "services.[].database": {"services": [{"name": "orders", "database": "mysql"}]},
    "services.[].api": {"services": [{"name": "orders", "api": ["rest", "graphql"]}]},
    "services.[].replicas": {"services": [{"name": "orders", "replicas": 2}]},
    "services.[].depends_on": {"services": [{"name": "orders", "depends_on": ["stock"]},
                                            {"name": "stock"}]},
    "services.[].publishes": {"services": [{"name": "orders", "publishes": ["order.placed"]}]},
    "services.[].consumes": {"services": [{"name": "orders", "consumes": ["order.paid"]}]},
    "services.[].entities": {"services": [{"name": "orders", "entities": [ENTITY]}]},
    "services.[].entities.[].name": {"services": [{"name": "orders", "entities": [
        {**ENTITY, "name": "invoice"}]}]},
    "services.[].entities.[].plural": {"services": [{"name": "orders", "entities": [
        {**ENTITY, "plural": "orderz"}]}]},
    "services.[].entities.[].fields": {"services": [{"name": "orders", "entities": [
        {**ENTITY, "fields": {"total": "int"}}]}]},
    "sagas": {"sagas": [{"name": "place", "steps": [{"service": "orders", "action": "create"}]}]},
    "sagas.[].name": {"sagas": [{"name": "buy", "steps": [{"service": "orders",
                                                           "action": "create"}]}]},
    "sagas.[].mode": {"sagas": [{"name": "place", "mode": "choreography",
                                 "steps": [{"service": "orders", "action": "create"}]}]},
    "sagas.[].steps": {"sagas": [{"name": "place", "steps": [{"service": "orders",
                                                              "action": "create"}]}]},
    "sagas.[].steps.[].service": {"sagas": [{"name": "place", "steps": [{"service": "orders",
                                                                         "action": "create"}]}]},
    "sagas.[].steps.[].action": {"sagas": [{"name": "place", "steps": [{"service": "orders",
                                                                        "action": "reserve"}]}]},
    "sagas.[].steps.[].compensate": {"sagas": [{"name": "place", "steps": [
        {"service": "orders", "action": "create", "compensate": "cancel"}]}]},
    "observability": {"observability": ["prometheus"]},
    "ui_ports": ({"observability": ["prometheus"]},
                 {"observability": ["prometheus"], "ui_ports": {"prometheus": 9191}}),
    "ui_ports.prometheus": ({"observability": ["prometheus"]},
                            {"observability": ["prometheus"], "ui_ports": {"prometheus": 9191}}),
    "ui_ports.jaeger": ({"observability": ["jaeger"]},
                        {"observability": ["jaeger"], "ui_ports": {"jaeger": 16000}}),
    "ui_ports.grafana": ({"observability": ["prometheus", "grafana"]},
                         {"observability": ["prometheus", "grafana"], "ui_ports": {"grafana": 3300}}),
    "ui_ports.rabbitmq": ({"bus": {"kind": "rabbitmq"}},
                          {"bus": {"kind": "rabbitmq"}, "ui_ports": {"rabbitmq": 25672}}),
    "ui_ports.keycloak": ({"auth": {"provider": "keycloak"}},
                          {"auth": {"provider": "keycloak"}, "ui_ports": {"keycloak": 8280}}),
}


OTHER_ARCHITECTURE = {"mvc": "scaled", "scaled": "mvc", "microservices": "mvc"}


def schema_keys() -> list[str]:
    """Every key path the schema accepts (`[]` for list items), walked from the file."""
    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    definitions = schema.get("$defs", {})
    found: list[str] = []

    def walk(node: dict[str, Any], path: list[str]) -> None:
        if "$ref" in node:
            node = definitions[node["$ref"].rsplit("/", 1)[-1]]
        for key, child in node.get("properties", {}).items():
            found.append(".".join([*path, key]))
            walk(child, [*path, key])
        items = node.get("items")
        if node.get("type") == "array" and isinstance(items, dict):
            walk(items, [*path, "[]"])

    walk(schema, [])
    return found


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def outcome(data: dict[str, Any], target: Path) -> str:
    """`refused` (a user error, exit 2) or a digest of every generated file."""
    try:
        Renderer(spec_from_data(data), target).write()
    except ArchgenError as error:
        assert error.exit_code == ExitCode.BAD_INPUT, f"{error} exited {error.exit_code}"
        return "refused"
    digest = hashlib.sha256()
    for path in sorted(target.rglob("*")):
        relative = path.relative_to(target)
        if path.is_file() and relative.name != ".env" and "tls" not in relative.parts:
            digest.update(relative.as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_the_table_covers_every_key_of_the_schema() -> None:
    assert sorted(schema_keys()) == sorted(VARIANTS), "add a variant for each new schema key"


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_key_changes_the_render_or_is_refused(architecture: str, tmp_path: Path) -> None:
    baseline = BASELINES[architecture]
    plain = outcome(baseline, tmp_path / "baseline")
    ignored = []
    for index, key in enumerate(schema_keys()):
        variant = VARIANTS[key]
        if key == "architecture":
            variant = {"architecture": OTHER_ARCHITECTURE[architecture]}
        if variant is None:
            continue
        if isinstance(variant, tuple):
            before = outcome(_merge(baseline, variant[0]), tmp_path / f"{index}-before")
            after = outcome(_merge(baseline, variant[1]), tmp_path / f"{index}-after")
        else:
            before, after = plain, outcome(_merge(baseline, variant), tmp_path / str(index))
        if after != "refused" and after == before:
            ignored.append(key)
    assert ignored == [], f"{architecture}: accepted but changed nothing: {ignored}"


API_STYLE: dict[str, Any] = {
    "mvc": lambda style: {"app": {"api": ["rest", style]}},
    "scaled": lambda style: {"app": {"api": ["rest", style]}},
    "microservices": lambda style: {"services": [{"name": "orders", "api": ["rest", style]}]},
}


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize("style", ["graphql", "grpc"])
def test_each_api_style_changes_the_render(architecture: str, style: str, tmp_path: Path) -> None:
    baseline = BASELINES[architecture]
    plain = outcome(baseline, tmp_path / "baseline")
    styled = outcome(_merge(baseline, API_STYLE[architecture](style)), tmp_path / style)
    assert styled not in ("refused", plain)
    app = tmp_path / style / ("services/orders" if architecture == "microservices" else "app")
    requirement, module = {"graphql": ("strawberry-graphql==", "controllers/graphql_api.py"),
                           "grpc": ("grpcio==", "grpc_api.py")}[style]
    assert requirement in (app / "requirements.txt").read_text()
    assert (app / "src/app" / module).is_file()
    assert requirement not in (tmp_path / "baseline" / app.relative_to(tmp_path / style)
                               / "requirements.txt").read_text()
    if style == "grpc":
        assert (app / "proto/app.proto").is_file()
        edge = next(p for p in (tmp_path / style).iterdir() if p.name in ("proxy", "lb", "gateway"))
        assert "grpc" in "".join(f.read_text() for f in edge.iterdir() if f.is_file()).lower()


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_prometheus_jaeger_and_grafana_each_change_the_render(architecture: str,
                                                              tmp_path: Path) -> None:
    baseline = BASELINES[architecture]
    plain = outcome(baseline, tmp_path / "baseline")
    observed = outcome({**baseline, "observability": ["prometheus"]}, tmp_path / "prometheus")
    assert observed not in ("refused", plain)
    for tool in ("grafana", "jaeger"):
        added = outcome({**baseline, "observability": ["prometheus", tool]}, tmp_path / tool)
        assert added not in ("refused", plain, observed), tool
    assert outcome({**baseline, "observability": ["jaeger"]}, tmp_path / "alone") not in (
        "refused", plain)
    # Grafana with nothing to show is refused.
    assert outcome({**baseline, "observability": ["grafana"]}, tmp_path / "empty") == "refused"
