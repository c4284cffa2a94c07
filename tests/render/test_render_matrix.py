"""Every proxy × database renders a complete, parseable, deterministic MVC project."""

from __future__ import annotations

import json
import re
import stat
import tomllib
from pathlib import Path

import pytest
import yaml

from archgen.catalog import CATALOG
from archgen.render import render_project
from archgen.render._secrets import new_secret
from tests.helpers import mvc_spec

PROXIES = ["nginx", "httpd", "envoy", "haproxy"]
DATABASES = ["mongodb", "postgres", "mysql"]
PRIVATE = {".env", "cert.pem", "key.pem", "combined.pem"}


def _generated(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in PRIVATE and p.parent.name != "secrets"
    }


@pytest.fixture(scope="module", params=[(p, d) for p in PROXIES for d in DATABASES],
                ids=lambda pd: f"{pd[0]}-{pd[1]}")
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    proxy, database = request.param
    target = tmp_path_factory.mktemp("render") / "shop"
    render_project(mvc_spec(proxy={"kind": proxy}, database={"engine": database}), target)
    return target


def test_every_generated_file_parses(project: Path) -> None:
    checked = 0
    for path in sorted(project.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml") or path.name == ".copier-answers.yml":
            yaml.safe_load(text)
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix == ".py":
            compile(text, str(path), "exec")
        else:
            continue
        checked += 1
    assert checked >= 5


def test_compose_contract(project: Path) -> None:
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"proxy", "app", "db", "redis", "app-test"}
    # app-test is the app's own suite, a one-shot job in profile `test`; every long-running
    # service has a healthcheck.
    assert services["app-test"]["profiles"] == ["test"]
    assert services["app-test"]["restart"] == "no"
    assert services["app-test"]["environment"]["APP_DATABASE_URL"] == (
        services["app"]["environment"]["APP_DATABASE_URL"])
    for name, service in services.items():
        assert "healthcheck" in service or name == "app-test", name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        for dependency in (service.get("depends_on") or {}).values():
            assert dependency["condition"] == "service_healthy"
    published = {name for name, s in services.items() if s.get("ports")}
    assert published == {"proxy"}
    assert all(p.startswith("127.0.0.1:") for p in services["proxy"]["ports"])
    assert services["app"]["user"] not in ("0", "root")
    assert set(compose["volumes"]) == {"db-data", "redis-data"}
    assert services["db"]["volumes"][0].startswith("db-data:")


def test_images_and_healthchecks_come_from_the_catalog(project: Path) -> None:
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    spec = yaml.safe_load((project / "archgen.yaml").read_text())
    proxy = CATALOG[spec["proxy"]["kind"]]
    database = CATALOG[spec["database"]["engine"]]
    services = compose["services"]
    assert services["proxy"]["image"] == proxy.image
    assert services["db"]["image"] == database.image
    assert services["redis"]["image"] == CATALOG["redis"].image
    assert proxy.healthcheck and database.healthcheck
    assert services["proxy"]["healthcheck"]["test"] == list(proxy.healthcheck.test)
    assert services["db"]["healthcheck"]["test"] == list(database.healthcheck.test)


def test_rendering_twice_is_byte_identical(project: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load((project / "archgen.yaml").read_text())
    again = tmp_path / "again"
    render_project(spec, again)
    assert _generated(again) == _generated(project)


def test_secrets_are_only_in_ignored_files(project: Path) -> None:
    secret_values = secret_files(project)
    assert secret_values
    for relative, content in _generated(project).items():
        for value in secret_values.values():
            assert value.encode() not in content, relative
    assert b"PRIVATE KEY" not in b"".join(_generated(project).values())
    assert "secrets/" in (project / ".gitignore").read_text().splitlines()
    env = (project / ".env").read_text()
    assert not any(value in env for value in secret_values.values())


def test_every_secret_is_letters_and_digits_so_no_tool_reads_it_as_an_option(
        project: Path) -> None:
    for name, value in secret_files(project).items():
        assert re.fullmatch(r"[A-Za-z0-9]{43}", value), name  # 256 bits; never a leading "-"


def test_a_fresh_secret_never_starts_with_a_dash() -> None:
    # token_urlsafe started one value in 64 with "-": `mongosh --password -x…` then failed.
    drawn = {new_secret() for _ in range(2000)}
    assert len(drawn) == 2000
    assert all(re.fullmatch(r"[A-Za-z0-9]{43}", value) for value in drawn)


def secret_files(project: Path) -> dict[str, str]:
    """The project's secret files by name; the folder private, each file readable in containers."""
    folder = project / "secrets"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    values = {}
    for path in sorted(folder.iterdir()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
        values[path.name] = path.read_text()
        assert len(values[path.name]) >= 32 and "\n" not in values[path.name]
    return values


def test_no_password_in_any_environment(project: Path) -> None:
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    declared = compose["secrets"]
    assert set(declared) == set(secret_files(project))
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            assert "PASSWORD" not in key or key.endswith("_FILE"), (name, key)
            if key.endswith("_FILE"):  # a path of a secret this service mounts
                assert value.removeprefix("/run/secrets/") in service["secrets"], (name, key)
