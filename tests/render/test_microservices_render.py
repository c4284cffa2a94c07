"""Every database × bus × gateway of the microservices blueprint renders a complete, isolated stack."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.catalog import CATALOG
from archgen.render import render_project
from archgen.runtime.compose import load_project

DATABASES = ["postgres", "mysql", "mongodb", "redis", "neo4j", "elasticsearch", "solr", "none"]
BUSES = ["kafka", "rabbitmq"]
GATEWAYS = ["envoy", "nginx"]
MATRIX = [(d, b, g) for d in DATABASES for b in BUSES for g in GATEWAYS]


def microservices_spec(database: str = "postgres", bus: str = "kafka", gateway: str = "envoy",
                       **extra: Any) -> dict[str, Any]:
    """Two services (one with `database`, one on postgres), a saga over both, a rate limit."""
    return {
        "name": "market",
        "architecture": "microservices",
        "gateway": {"kind": gateway},
        "bus": {"kind": bus},
        "cache": {"rate_limit": {"requests": 50, "window": "10s"}},
        "services": [
            {"name": "orders", "database": "postgres", "publishes": ["order.created"],
             "entities": [{"name": "order", "fields": {"total": "float", "note": "str?"}}]},
            {"name": "stock", "database": database, "consumes": ["order.created"]},
        ],
        "sagas": [{"name": "place-order", "steps": [
            {"service": "orders", "action": "create", "compensate": "cancel"},
            {"service": "stock", "action": "reserve", "compensate": "release"}]}],
        **extra,
    }


def _env(project: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()
                if "=" in line and not line.startswith("#"))


@pytest.fixture(scope="module", params=MATRIX, ids=["-".join(m) for m in MATRIX])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    database, bus, gateway = request.param
    target = tmp_path_factory.mktemp("ms") / "market"
    render_project(microservices_spec(database, bus, gateway), target)
    return target


def test_every_generated_file_parses(project: Path) -> None:
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix in (".yaml", ".yml"):
            yaml.safe_load(path.read_text(encoding="utf-8"))
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), str(path), "exec")


def test_one_folder_per_service_and_one_for_the_orchestrator(project: Path) -> None:
    assert sorted(p.name for p in (project / "services").iterdir()) == ["orders", "sagas", "stock"]
    for name in ("orders", "sagas", "stock"):
        assert (project / "services" / name / "Dockerfile").is_file()
    assert (project / "services" / "orders" / "db" / "app-user.sh").is_file()
    assert not (project / "app").exists()


def test_compose_loads_in_the_runtime(project: Path) -> None:
    loaded = load_project(project, environ=_env(project), profiles=("test",))
    assert {"gateway", "bus", "orders", "orders-db", "stock", "sagas", "sagas-db",
            "orders-test", "stock-test", "sagas-test"} <= set(loaded.services)


def test_only_the_gateway_is_published_and_every_database_is_alone_with_its_owner(
        project: Path) -> None:
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    # Beside the gateway only RabbitMQ's management UI, on loopback (AMQP never).
    uis = {"bus": ["127.0.0.1:15672:15672"]} if services["bus"]["image"].startswith("rabbitmq") \
        else {}
    assert {k: v for k, v in published.items() if k != "gateway"} == uis
    assert services["gateway"]["networks"] == ["frontend"]
    for name in ("orders", "stock", "sagas"):
        assert {"frontend", "backend"} <= set(services[name]["networks"])
    assert services["bus"]["networks"] == ["backend"]
    for name, service in services.items():
        if not name.endswith("-db"):
            continue
        owner = name.removesuffix("-db")
        (network,) = service["networks"]
        members = {n for n, s in services.items() if network in s["networks"]}
        assert members == {name, owner, f"{owner}-test"}, (name, members)


def test_healthchecks_and_start_order(project: Path) -> None:
    services = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    for name, service in services.items():
        assert "healthcheck" in service or name.endswith("-test"), name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        for dependency in (service.get("depends_on") or {}).values():
            assert dependency["condition"] == "service_healthy", name
    assert set(services["gateway"]["depends_on"]) == {"orders", "stock", "sagas"}
    assert set(services["orders"]["depends_on"]) == {"orders-db", "bus"}
    assert services["bus"]["image"] in (CATALOG["kafka"].image, CATALOG["rabbitmq"].image)
    assert services["bus"]["healthcheck"]["test"][0] == "CMD-SHELL"


def test_each_service_gets_its_role_bus_and_own_secrets(project: Path) -> None:
    services = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    orders = services["orders"]["environment"]
    assert orders["APP_SERVICE_NAME"] == "orders" and orders["APP_ROLE"] == "service"
    assert services["sagas"]["environment"]["APP_ROLE"] == "orchestrator"
    # Each service mounts its own database's password file, and nothing else's.
    assert orders["APP_DATABASE_PASSWORD_FILE"] == "/run/secrets/orders_postgres_app_password"
    sagas = services["sagas"]["environment"]
    assert sagas["APP_DATABASE_PASSWORD_FILE"] == "/run/secrets/sagas_postgres_app_password"
    mounted = {s if isinstance(s, str) else s["source"] for s in services["orders"]["secrets"]}
    assert not any(name.startswith(("sagas_", "stock_")) for name in mounted), mounted
    db = services["orders-db"]["environment"]
    assert db["POSTGRES_APP_PASSWORD_FILE"] == "/run/secrets/orders_postgres_app_password"
    assert db["POSTGRES_PASSWORD_FILE"] == "/run/secrets/orders_postgres_password"
    for name, service in services.items():  # no password value in any environment
        for key, value in (service.get("environment") or {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), (name, key)
            assert ":${" not in str(value), (name, key)
    for item in ("orders_postgres_app_password", "sagas_postgres_app_password"):
        assert len((project / "secrets" / item).read_text().strip()) >= 32, item
    assert orders["APP_FAULT_INJECTION"] == "${APP_FAULT_INJECTION:-false}"
    assert "APP_REDIS_URL" not in orders and "APP_RATE_LIMIT_REQUESTS" not in orders
    env = _env(project)
    assert env["APP_FAULT_INJECTION"] == "false"
    if services["bus"]["image"].startswith("rabbitmq"):
        assert orders["APP_BUS_URL"].startswith("amqp://${RABBITMQ_USER")
        assert orders["APP_BUS_PASSWORD_FILE"] == "/run/secrets/rabbitmq_password"
        assert services["bus"]["environment"]["RABBITMQ_DEFAULT_PASS_FILE"] == (
            "/run/secrets/rabbitmq_password")
        assert env["RABBITMQ_USER"] not in ("", "guest")
        assert len((project / "secrets" / "rabbitmq_password").read_text().strip()) >= 32
    else:
        assert orders["APP_BUS_URL"] == "bus:9092"


def test_readme_names_routes_events_sagas_and_the_fault_switch(project: Path) -> None:
    readme = (project / "README.md").read_text()
    assert "strips the `/api/<service>` prefix" in readme
    assert "| `/api/stock/…` | `stock:8000` | `/…` |" in readme
    assert "| `/api/sagas/…` | `sagas:8000` | `/sagas/…` |" in readme
    assert "| `order.created` | `events.order.created` | orders | stock |" in readme
    assert "`orders.create` (`cancel`)" in readme
    assert "APP_FAULT_INJECTION=true" in readme and "```mermaid" in readme
    makefile = (project / "Makefile").read_text()
    assert "test: test-orders test-stock test-sagas" in makefile
    assert "run --rm --build stock-test" in makefile


def test_rendering_twice_is_byte_identical(project: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load((project / "archgen.yaml").read_text())
    render_project(spec, tmp_path / "again")
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        random = relative.name == ".env" or {"tls", "secrets"} & set(relative.parts)
        if path.is_file() and not random:  # .env, secrets/ and tls/ are random per project
            assert (tmp_path / "again" / relative).read_bytes() == path.read_bytes(), relative


def test_a_service_without_entities_gets_one_named_after_it(tmp_path: Path) -> None:
    render_project(microservices_spec(), tmp_path / "m")
    readme = (tmp_path / "m" / "README.md").read_text()
    assert "`/api/stock/stocks`" in readme and "`/api/orders/orders`" in readme


def test_without_bus_or_sagas_there_is_no_bus_and_no_orchestrator(tmp_path: Path) -> None:
    render_project({"name": "m", "architecture": "microservices",
                    "services": [{"name": "orders"}, {"name": "stock", "database": "none"}]},
                   tmp_path / "m")
    services = yaml.safe_load((tmp_path / "m" / "compose.yaml").read_text())["services"]
    assert set(services) == {"gateway", "orders", "orders-test", "orders-db", "stock",
                             "stock-test"}
    assert "APP_BUS_URL" not in services["orders"]["environment"]
    assert "APP_DATABASE_URL" not in services["stock"]["environment"]
