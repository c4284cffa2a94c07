"""The generated application is lint- and type-clean: `ruff check` and `mypy` with its own
configuration (app/pyproject.toml) pass on every variant archgen renders.

Variants: the MVC blueprint with each database engine, and the scaled blueprint with each
engine it supports (it has no replicated MySQL), all with entities using every field type,
required and optional; the GraphQL and gRPC API styles on an MVC app and on a
microservice, whose generated GraphQL / gRPC tests must pass as well. ruff and mypy are
archgen's own dev tools; PyMySQL's type stubs (types-PyMySQL, pinned in the app's
requirements-dev.txt) are used from this environment if installed, else installed into a
throwaway virtualenv layered over it.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import mvc_spec, unavailable

EVERY_TYPE = ["str", "int", "float", "bool", "datetime", "list[str]", "list[int]", "list[float]"]
ENTITIES: list[dict[str, Any]] = [
    {"name": "every-type", "fields": {f"f_{i}": kind for i, kind in enumerate(EVERY_TYPE)}},
    {"name": "maybe", "fields": {f"f_{i}": f"{kind}?" for i, kind in enumerate(EVERY_TYPE)}},
    # An SQL keyword and mixed fields, as the MVC app test uses.
    {"name": "order-line", "fields": {"order": "str", "quantity": "int", "note": "str?"}},
]
VARIANTS = [
    ("mvc", "postgres"),
    ("mvc", "mysql"),
    ("mvc", "mongodb"),
    ("scaled", "postgres"),
    ("scaled", "mongodb"),
    # A microservice on each store it may own (services/orders), and the saga orchestrator.
    *[("microservices", engine) for engine in ("postgres", "mysql", "mongodb", "redis", "neo4j",
                                               "elasticsearch", "solr", "none")],
    ("orchestrator", "postgres"),
    # The GraphQL API style (strawberry) on the MVC app and on a microservice.
    ("mvc-graphql", "postgres"),
    ("microservices-graphql", "mongodb"),
    # The gRPC API style (grpcio; the proto compiled from the source tree) likewise.
    ("mvc-grpc", "postgres"),
    ("microservices-grpc", "mongodb"),
    # Keycloak (auth): the JWT checks on the MVC app, a microservice and the orchestrator.
    ("mvc-auth", "postgres"),
    ("microservices-auth", "postgres"),
    ("orchestrator-auth", "postgres"),
]
TIMEOUT = 300


def _spec(architecture: str, engine: str) -> dict[str, Any]:
    if architecture.endswith("-auth"):
        return {**_spec(architecture.removesuffix("-auth"), engine),
                "auth": {"provider": "keycloak", "realm": "shop"}}
    for style in ("graphql", "grpc"):
        if architecture.endswith(f"-{style}"):
            spec = _spec(architecture.removesuffix(f"-{style}"), engine)
            app = spec["services"][0] if "services" in spec else spec["app"]
            app["api"] = ["rest", style]
            return spec
    if architecture in ("microservices", "orchestrator"):
        return {
            "name": "shop", "architecture": "microservices", "bus": {"kind": "kafka"},
            "services": [
                {"name": "orders", "database": engine, "entities": ENTITIES,
                 "publishes": ["order.created"], "consumes": ["payment.failed"]},
                {"name": "payments", "publishes": ["payment.failed"]},
            ],
            "sagas": [{"name": "place-order", "steps": [
                {"service": "orders", "action": "create", "compensate": "cancel"},
                {"service": "payments", "action": "charge"}]}],
        }
    if architecture == "mvc":
        return mvc_spec(database={"engine": engine}, app={"entities": ENTITIES})
    return {
        "name": "shop",
        "architecture": "scaled",
        "load_balancer": {"kind": "haproxy", "algorithm": "round_robin"},
        "app": {"replicas": 2, "entities": ENTITIES},
        "database": {"engine": engine, "replicas": 3},
        "cache": {"sentinel": True},
    }


@pytest.fixture(scope="module", params=VARIANTS, ids=[f"{a}-{e}" for a, e in VARIANTS])
def app_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from archgen.render import render_project  # imported late: collection must not need it

    architecture, engine = request.param
    target = tmp_path_factory.mktemp(f"lint-{architecture}-{engine}") / "shop"
    render_project(_spec(architecture, engine), target)
    if architecture.startswith("microservices"):
        return target / "services" / "orders"
    if architecture.startswith("orchestrator"):
        return target / "services" / "sagas"
    return target / "app"


DEV_REQUIREMENTS = Path(__file__).parents[2] / "blueprints/_parts/app/template/requirements-dev.txt"


def _pinned(name: str) -> str:
    for line in DEV_REQUIREMENTS.read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if requirement.lower().startswith(f"{name.lower()}=="):
            return requirement
    raise AssertionError(f"{name} is not pinned in {DEV_REQUIREMENTS}")


@pytest.fixture(scope="module")
def python_with_stubs(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A Python that has this environment's packages and the app's stub packages."""
    stubs = _pinned("types-PyMySQL")
    try:
        importlib.metadata.version("types-PyMySQL")
        return sys.executable
    except importlib.metadata.PackageNotFoundError:
        pass
    venv = tmp_path_factory.mktemp("lint-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "-q", stubs],
                             capture_output=True, text=True, timeout=300, check=False)
    if install.returncode != 0:
        unavailable(f"could not install {stubs} for mypy: {install.stderr.strip()[-500:]}")
    return python


def _run(python: str, app: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "MYPY"))}
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([python, "-m", *args], cwd=app, env=environ, capture_output=True,
                          text=True, timeout=TIMEOUT, check=False)


def test_ruff_passes(app_dir: Path) -> None:
    result = _run(sys.executable, app_dir, "ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "All checks passed" in result.stdout


def test_mypy_passes(
    app_dir: Path, python_with_stubs: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # One cache for every variant: the third-party modules are analysed once.
    cache = tmp_path_factory.getbasetemp() / "mypy-cache"
    result = _run(python_with_stubs, app_dir, "mypy", "--cache-dir", str(cache))
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    checked = re.search(r"no issues found in (\d+) source files", result.stdout)
    assert checked, result.stdout
    assert int(checked.group(1)) >= 30, "src and tests are both checked"


def test_the_configuration_is_strict(app_dir: Path) -> None:
    import tomllib

    config = tomllib.loads((app_dir / "pyproject.toml").read_text())
    mypy = config["tool"]["mypy"]
    assert mypy["strict"] and mypy["disallow_untyped_defs"] and mypy["warn_unused_ignores"]
    assert set(mypy["files"]) == {"src", "tests"}
    assert "ignore_missing_imports" not in mypy, "only per module, for modules without stubs"
    ruff = config["tool"]["ruff"]
    assert ruff["lint"]["select"], "an explicit rule set, not whatever the installed ruff defaults to"


@pytest.mark.parametrize(("style", "module", "tests"), [
    ("graphql", "controllers/graphql_api.py", "test_graphql.py"),
    ("grpc", "grpc_api.py", "test_grpc.py"),
    ("auth", "auth.py", "test_auth.py")], ids=["graphql", "grpc", "auth"])
def test_an_option_is_rendered_only_when_asked_and_its_tests_pass(
        app_dir: Path, style: str, module: str, tests: str) -> None:
    variant = app_dir.parent.name + app_dir.parents[1].name + app_dir.parents[2].name
    if style not in variant:
        assert not (app_dir / "src/app" / module).exists()
        assert not (app_dir / "tests/unit" / tests).exists()
        return
    assert (app_dir / "src/app" / module).is_file()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "PYTEST_"))}
    environ.update(PYTHONPATH="src", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             f"tests/unit/{tests}"], cwd=app_dir, env=environ,
                            capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout) and "failed" not in result.stdout
