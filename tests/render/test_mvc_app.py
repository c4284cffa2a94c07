"""The MVC blueprint's application: rendered, compiled, and its own test suite run.

For PostgreSQL and MySQL the generated suite (unit and integration tiers) runs
in a subprocess against real servers started from Debian's packages (see
tests/servers.py). MongoDB has no Debian package: that variant is imported and
unit-tested only, and says so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

from tests.helpers import mvc_spec, unavailable

ENGINES = ["postgres", "mysql", "mongodb"]
DRIVERS = {"postgres": "psycopg", "mysql": "pymysql", "mongodb": "pymongo"}
ENTITIES: list[dict[str, Any]] = [
    # A list field and an optional field, as the issue asks ...
    {"name": "product", "fields": {"title": "str", "price": "float", "tags": "list[str]", "note": "str?"}},
    # ... and every other field type, a hyphenated name and an SQL keyword as a field.
    {
        "name": "order-line",
        "fields": {
            "quantity": "int",
            "gift": "bool",
            "shipped_at": "datetime?",
            "order": "str",
            "weights": "list[float]",
            "codes": "list[int]?",
        },
    },
]
SUITE_TIMEOUT = 300


@dataclass(frozen=True)
class Project:
    engine: str
    root: Path

    @property
    def app(self) -> Path:
        return self.root / "app"


@pytest.fixture(scope="module", params=ENGINES)
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Project:
    from archgen.render import render_project  # imported late: collection must not need it

    engine: str = request.param
    target = tmp_path_factory.mktemp(f"mvc-app-{engine}") / "shop"
    render_project(mvc_spec(database={"engine": engine}, app={"entities": ENTITIES}), target)
    return Project(engine, target)


Run = subprocess.CompletedProcess[str]
SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")


def _python(app_dir: Path, env: dict[str, str], *args: str) -> Run:
    """Run the host's Python in the generated app folder, the way its Makefile does (no venv).

    Only `env` configures the app: no APP_* variable of this process leaks in, and no
    bytecode is written into the rendered tree.
    """
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "PYTEST_"))}
    environ.update(env, PYTHONPATH="src", PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(
        [sys.executable, *args], cwd=app_dir, env=environ, capture_output=True, text=True,
        timeout=SUITE_TIMEOUT, check=False,
    )


def _run_suite(app_dir: Path, env: dict[str, str], *args: str) -> tuple[Run, dict[str, int]]:
    """Run the generated project's pytest; return the process and its summary counts."""
    result = _python(app_dir, env, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", *args)
    lines = result.stdout.strip().splitlines()
    counts = {kind: int(n) for n, kind in SUMMARY.findall(lines[-1] if lines else "")}
    return result, counts


def _assert_all_passed(result: Run, counts: dict[str, int]) -> None:
    report = f"exit {result.returncode}; summary {counts}\n{result.stdout[-12000:]}\n{result.stderr[-4000:]}"
    assert result.returncode == 0, report
    assert counts.get("passed", 0) > 0, report
    assert set(counts) == {"passed"}, f"nothing may be skipped, failed or errored: {report}"


def test_every_python_file_compiles(project: Project) -> None:
    sources = sorted(project.root.rglob("*.py"))
    assert len(sources) >= 20
    for path in sources:
        compile(path.read_text(encoding="utf-8"), str(path), "exec")
    assert not list(project.root.rglob("__pycache__")), "no bytecode may be rendered"


def test_requirements_pin_only_the_selected_driver(project: Project) -> None:
    app = project.app
    runtime = [Requirement(line) for line in _requirement_lines(app / "requirements.txt")]
    for requirement in runtime:
        assert [spec.operator for spec in requirement.specifier] == ["=="], str(requirement)
    names = {requirement.name.lower() for requirement in runtime}
    assert names == {"fastapi", "uvicorn", "redis", "prometheus-client", DRIVERS[project.engine],
                     "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http",
                     "opentelemetry-instrumentation-fastapi"}
    dev_lines = (app / "requirements-dev.txt").read_text().splitlines()
    assert "--requirement requirements.txt" in dev_lines
    dev = [Requirement(line) for line in _requirement_lines(app / "requirements-dev.txt")]
    for requirement in dev:
        assert [spec.operator for spec in requirement.specifier] == ["=="], str(requirement)
    # Test tools, the linter and the type checker with the stubs it needs (test_app_lint.py).
    assert {r.name.lower() for r in dev} == {"pytest", "httpx", "ruff", "mypy", "types-pymysql"}


def _requirement_lines(path: Path) -> list[str]:
    lines = [line.split("#")[0].strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("-")]


def test_dockerfile_builds_a_venv_and_runs_as_non_root(project: Project) -> None:
    text = (project.app / "Dockerfile").read_text()
    # A `# syntax=` line makes BuildKit pull a frontend image: no registry is reachable offline.
    assert "# syntax=" not in text
    instructions = [
        line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = [line for line in instructions if line.startswith("FROM ")]
    assert [line.split()[-1] for line in froms] == ["build", "runtime", "test"]
    assert froms[0].split()[1] == froms[1].split()[1], "both stages use the same base image"
    runtime = instructions[instructions.index(froms[1]):instructions.index(froms[2])]
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    # The image compose runs (target runtime) has no test tools; only the test stage does.
    assert not any("requirements-dev" in line or "pytest" in line for line in instructions[
        :instructions.index(froms[2])])
    assert froms[2].split()[1] == "runtime"
    test_stage = instructions[instructions.index(froms[2]):]
    assert test_stage[-1].startswith("CMD ") and "pytest" in test_stage[-1]
    test_users = [line.split()[1] for line in test_stage if line.startswith("USER ")]
    assert test_users[-1].split(":")[0] not in ("root", "0"), test_users
    assert any(line.startswith("EXPOSE 8000") for line in runtime)
    cmd = next(line for line in runtime if line.startswith("CMD "))
    # uvicorn trusts no forwarding header: the app believes X-Forwarded-For only from the
    # proxies in APP_TRUSTED_PROXIES (app/forwarding.py), never from any sender.
    assert '"--no-proxy-headers"' in cmd and "forwarded-allow-ips" not in text
    # CKV_DOCKER_2: a HEALTHCHECK, in Python (the image has no curl or wget), on the app's port.
    healthchecks = [line for line in runtime if line.startswith("HEALTHCHECK ")]
    assert len(healthchecks) == 1, healthchecks
    probe = "urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=3)"
    assert 'CMD ["python", "-c", "import urllib.request; ' + probe + '"]' in healthchecks[0]
    assert "HEALTHCHECK NONE" in test_stage, "the one-shot test job is not probed"
    env = " ".join(line for line in runtime if line.startswith("ENV ") or line.startswith("PYTHON"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "PYTHONUNBUFFERED=1" in env


@pytest.mark.servers
@pytest.mark.parametrize("project", ["postgres", "mysql"], indirect=True)
def test_generated_suite_passes_against_real_servers(
    project: Project, request: pytest.FixtureRequest
) -> None:
    server = "postgres_server" if project.engine == "postgres" else "mariadb_server"
    database_url: str = request.getfixturevalue(server)
    redis_url: str = request.getfixturevalue("redis_server")
    # One Redis database per engine, so the two projects never share cache entries.
    redis_db = redis_url.rsplit("/", 1)[0] + ("/1" if project.engine == "mysql" else "/2")

    result, counts = _run_suite(
        project.app,
        {"APP_DB_ENGINE": project.engine, "APP_DATABASE_URL": database_url, "APP_REDIS_URL": redis_db},
    )
    _assert_all_passed(result, counts)
    # The integration tier really ran, for both entities.
    for entity in ("product", "order_line"):
        assert f"PASSED tests/integration/test_resources.py::test_round_trip[{entity}]" in result.stdout


@pytest.mark.parametrize("project", ["mongodb"], indirect=True)
def test_mongodb_variant_imports_and_passes_its_unit_tests(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    app_dir = project.app
    env = {
        "APP_DB_ENGINE": "mongodb",
        # Nothing listens there: pymongo connects lazily, and nothing here may connect.
        "APP_DATABASE_URL": "mongodb://127.0.0.1:1/app",
        "APP_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    probe = (
        "import sys\n"
        "from app.main import create_app\n"
        "application = create_app()\n"
        "assert 'app.models.mongo' in sys.modules and 'app.models.sql' not in sys.modules\n"
        "print(sorted(application.openapi()['paths']))\n"
    )
    imported = _python(app_dir, env, "-c", probe)
    assert imported.returncode == 0, imported.stderr
    assert "/api/order_lines/{item_id}" in imported.stdout and "/api/products" in imported.stdout

    result, counts = _run_suite(app_dir, env, "tests/unit")
    _assert_all_passed(result, counts)
    with capsys.disabled():
        print(
            "\nMongoDB variant: imported and unit-tested only"
            f" ({counts['passed']} unit tests passed) — no MongoDB server is available here"
        )


def _python312() -> str | None:
    import glob
    import shutil

    # pyenv's own builds first: its `python3.12` shim on PATH fails unless 3.12 is selected.
    candidates = sorted(glob.glob("/root/.pyenv/versions/3.12*/bin/python3.12"))
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    if candidates:
        return candidates[-1]
    found = shutil.which("python3.12")
    return found if found and "/shims/" not in found else None


@pytest.mark.servers
@pytest.mark.parametrize("project", ["postgres"], indirect=True)
def test_generated_suite_passes_on_python_312(
    project: Project, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # The host runs 3.11 (the other tests); the official image runs 3.12: prove both.
    interpreter = _python312()
    if interpreter is None:
        unavailable("no Python 3.12 interpreter here (python3.12 or pyenv 3.12)")
    venv = tmp_path / "venv312"
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "-r", "requirements.txt", "-r", "requirements-dev.txt"],
        cwd=project.app, capture_output=True, text=True, timeout=600, check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert version == "(3, 12)"
    database_url: str = request.getfixturevalue("postgres_server")
    redis_url: str = request.getfixturevalue("redis_server")
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("APP_", "PYTEST_"))}
    environ.update(APP_DB_ENGINE="postgres", APP_DATABASE_URL=database_url,
                   APP_REDIS_URL=redis_url.rsplit("/", 1)[0] + "/3", PYTHONPATH="src",
                   PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([python, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider"],
                            cwd=project.app, env=environ, capture_output=True, text=True,
                            timeout=SUITE_TIMEOUT, check=False)
    lines = result.stdout.strip().splitlines()
    counts = {kind: int(n) for n, kind in SUMMARY.findall(lines[-1] if lines else "")}
    _assert_all_passed(result, counts)
