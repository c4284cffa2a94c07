"""The app part rendered as a microservice (`arch.app.role` service or orchestrator) is lint-,
type- and test-clean: ruff, mypy and its own unit tests (in-memory store and bus) pass.

The context is the mvc model's, with the keys the microservices contract adds (role, name,
publishes, consumes, steps, sagas, bus; cache null), so the part's service code is checked
on its own. Byte-identity of the mvc and scaled renders is checked by the other render tests.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import mvc_spec

PART = Path(__file__).parents[2] / "blueprints/_parts/app"
TIMEOUT = 300
STEPS: list[dict[str, Any]] = [
    {"service": "orders", "action": "create_order", "compensate": "cancel_order"},
    {"service": "stock", "action": "reserve_stock", "compensate": "release_stock"},
    {"service": "payments", "action": "charge", "compensate": None},
]
SAGA = {"name": "checkout", "mode": "orchestration", "steps": STEPS}
ENTITIES: list[dict[str, Any]] = [
    {"name": "order", "fields": {"item": "str", "quantity": "int", "note": "str?", "at": "datetime?",
                                 "tags": "list[str]?"}},
]
VARIANTS = [
    ("orders", "service", "postgres", "kafka"),
    ("stock", "service", "mysql", "rabbitmq"),
    ("payments", "service", "mongodb", "kafka"),
    ("sagas", "orchestrator", "postgres", "rabbitmq"),
    ("orders", "service", "postgres", None),
]


def service_context(service: str, role: str, engine: str, bus: str | None) -> dict[str, Any]:
    from archgen.model import resolve
    from archgen.spec import spec_from_data

    spec = spec_from_data(mvc_spec(database={"engine": engine}, app={"entities": ENTITIES}))
    arch: dict[str, Any] = copy.deepcopy(dict(resolve(spec).context))
    app: dict[str, Any] = arch["app"]
    app.update(role=role, name=service, service=service, dir=f"services/{service}")
    app["publishes"] = ["order.created", "order.deleted"] if service == "orders" else []
    app["consumes"] = ["order.created"] if service == "stock" else []
    app["steps"] = [{"saga": "checkout", "action": s["action"], "compensate": s["compensate"]}
                    for s in STEPS if s["service"] == service]
    if role == "orchestrator":
        app["entities"] = []
        app["sagas"] = [SAGA]
    arch["cache"] = None
    arch["database"]["engine"] = engine
    port = 9092 if bus == "kafka" else 5672
    arch["bus"] = None if bus is None else {"kind": bus, "service": "bus", "port": port}
    return arch


@pytest.fixture(scope="module", params=VARIANTS, ids=["-".join(str(p) for p in v) for v in VARIANTS])
def service_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from archgen.render._copier import run_copy

    service, role, engine, bus = request.param
    target: Path = tmp_path_factory.mktemp(f"ms-{service}-{engine}-{bus}") / service
    run_copy(PART, target, {"arch": service_context(service, role, engine, bus)})
    return target


def _run(app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "MYPY", "DATABASE_URL"))}
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([sys.executable, "-m", *args], cwd=app, env=environ, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def test_the_service_has_its_messaging_and_no_redis(service_dir: Path) -> None:
    src = service_dir / "src/app"
    for module in ("bus.py", "outbox.py", "consumer.py", "sagas.py", "messaging.py", "controllers/events.py"):
        assert (src / module).is_file(), module
    requirements = (service_dir / "requirements.txt").read_text()
    kafka, rabbit = "confluent-kafka==" in requirements, "pika==" in requirements
    assert (kafka, rabbit) in {(True, False), (False, True), (False, False)}
    assert "APP_REDIS_URL" not in (src / "context.py").read_text()
    assert "RateLimitMiddleware" not in (src / "main.py").read_text()


def test_ruff_passes(service_dir: Path) -> None:
    result = _run(service_dir, "ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]


def test_mypy_passes(service_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.getbasetemp() / "mypy-cache-ms"
    result = _run(service_dir, "mypy", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert re.search(r"no issues found in \d+ source files", result.stdout), result.stdout


def test_its_unit_tests_pass(service_dir: Path) -> None:
    result = _run(service_dir, "pytest", "-q", "-p", "no:cacheprovider", "tests/unit")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout), result.stdout
