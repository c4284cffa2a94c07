"""`archgen update`: a three-way merge of the pristine render, your files and a new render."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import mvc_spec

ORDER = {"name": "order", "fields": {"reference": "str", "total": "float"}}


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def project(cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    target = tmp_path / "shop"
    result = cli("new", write_spec(tmp_path / "shop.yaml", mvc_spec()), "-o", target)
    assert result.exit_code == 0, result.stderr
    return target


def change_spec(project: Path, **overrides: Any) -> None:
    write_spec(project / "archgen.yaml", mvc_spec(**overrides))


def with_order() -> dict[str, Any]:
    entities = [*mvc_spec()["app"]["entities"], ORDER]
    return {"entities": entities}


def test_new_records_the_pristine_render_and_not_the_private_files(project: Path) -> None:
    record = json.loads((project / ".archgen/pristine.json").read_text())
    assert "\n".join(record["files"]["compose.yaml"]) == (project / "compose.yaml").read_text()
    assert ".env" not in record["files"] and not any("/tls/" in p for p in record["files"])
    assert ".archgen" not in (project / ".gitignore").read_text()  # committed with the project


def test_an_edit_in_a_controller_survives_adding_an_entity(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    crud = project / "app/src/app/controllers/crud.py"
    crud.write_text(crud.read_text().replace(
        'JSON = "application/json"\n', 'JSON = "application/json"\nAUDIT = True  # mine\n'))
    views = project / "app/src/app/views/entities.py"
    views.write_text(views.read_text().replace('"""Body of POST and PUT /api/products."""',
                                               '"""Body of POST and PUT /api/products (reviewed)."""'))
    change_spec(project, app=with_order())

    result = cli("update", project, "--json")

    assert result.exit_code == 0, result.stderr
    actions = {f["path"]: f["action"] for f in result.json["files"]}
    assert actions["app/src/app/controllers/crud.py"] == "kept"
    assert actions["app/src/app/views/entities.py"] == "merged"
    assert actions["app/src/app/blueprint.py"] == "update"
    assert "AUDIT = True  # mine" in crud.read_text()
    merged = views.read_text()
    assert "(reviewed)" in merged and "/api/orders" in merged and "<<<<<<<" not in merged
    assert 'name="order"' in (project / "app/src/app/blueprint.py").read_text()
    # The record moved on: a second update changes nothing.
    again = cli("update", project, "--json")
    assert again.exit_code == 0
    assert {f["action"] for f in again.json["files"]} <= {"unchanged", "kept", "keep"}


def test_an_edit_to_the_lines_a_spec_change_touches_is_a_conflict(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    compose = project / "compose.yaml"
    compose.write_text(compose.read_text().replace(
        'APP_RATE_LIMIT_REQUESTS: "100"', 'APP_RATE_LIMIT_REQUESTS: "50"  # tuned by me', 1))
    change_spec(project, cache={"engine": "redis", "rate_limit": {"requests": 10, "window": "60s"}})

    result = cli("update", project)

    assert result.exit_code == 3
    assert "compose.yaml" in result.stderr and "conflict" in result.stderr
    text = compose.read_text()
    assert ('<<<<<<< yours\n      APP_RATE_LIMIT_REQUESTS: "50"  # tuned by me\n=======\n'
            '      APP_RATE_LIMIT_REQUESTS: "10"\n>>>>>>> archgen\n') in text
    # The non-conflicting part of the same change landed.
    assert "RATE_LIMIT_REQUESTS = 10" in (project / "app/src/app/blueprint.py").read_text()


def test_dry_run_reports_the_conflict_and_writes_nothing(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    compose = project / "compose.yaml"
    edited = compose.read_text().replace('APP_RATE_LIMIT_REQUESTS: "100"', 'APP_RATE_LIMIT_REQUESTS: "50"', 1)
    compose.write_text(edited)
    record = (project / ".archgen/pristine.json").read_bytes()
    spec_before = (project / "archgen.yaml").read_bytes()
    spec = write_spec(project.parent / "v2.yaml",
                      mvc_spec(cache={"engine": "redis", "rate_limit": {"requests": 10, "window": "60s"}}))

    result = cli("update", project, "--spec", spec, "--dry-run", "--json")

    assert result.exit_code == 3
    assert result.json["conflicts"] == ["compose.yaml"]
    assert compose.read_text() == edited
    assert (project / ".archgen/pristine.json").read_bytes() == record
    assert (project / "archgen.yaml").read_bytes() == spec_before


def test_a_deleted_file_stays_deleted(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    (project / "Jenkinsfile").unlink()
    (project / "app/src/app/views/entities.py").unlink()  # changed by the new entity: still stays gone
    change_spec(project, app=with_order())

    result = cli("update", project, "--json")

    assert result.exit_code == 0, result.stderr
    actions = {f["path"]: f for f in result.json["files"]}
    assert actions["Jenkinsfile"]["action"] == "deleted"
    assert actions["app/src/app/views/entities.py"]["action"] == "deleted"
    assert "changed" in actions["app/src/app/views/entities.py"]["detail"]
    assert not (project / "Jenkinsfile").exists()
    assert not (project / "app/src/app/views/entities.py").exists()


def test_env_keeps_its_values_and_gains_new_variables_and_tls_is_kept(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    env = project / ".env"
    env.write_text(env.read_text() + "MY_OWN=1\n")
    before = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    secrets = {p.name: p.read_text() for p in (project / "secrets").iterdir()}
    key = (project / "proxy/tls/key.pem").read_bytes()
    change_spec(project, database={"engine": "mysql"})

    result = cli("update", project)

    assert result.exit_code == 0, result.stderr
    after = dict(line.split("=", 1) for line in env.read_text().splitlines() if "=" in line)
    assert {k: after[k] for k in before} == before  # MY_OWN included
    assert (env.stat().st_mode & 0o777) == 0o600
    now = {p.name: p.read_text() for p in (project / "secrets").iterdir()}
    assert {k: now[k] for k in secrets} == secrets  # postgres_password included
    assert len(now["mysql_password"]) >= 32 and len(now["mysql_root_password"]) >= 32
    assert (project / "secrets").stat().st_mode & 0o777 == 0o700
    assert (project / "secrets/mysql_password").stat().st_mode & 0o777 == 0o644
    assert (project / "proxy/tls/key.pem").read_bytes() == key
    assert "service db changes from postgres" in result.stderr and "db-data" in result.stderr


def test_switching_architecture_says_what_happens_to_data(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    scaled = {
        "name": "shop", "architecture": "scaled",
        "load_balancer": {"kind": "nginx", "http_port": 8080, "https_port": 8443},
        "app": {"replicas": 2, "entities": mvc_spec()["app"]["entities"]},
        "database": {"engine": "postgres", "replicas": 2},
        "cache": {"engine": "redis"},
    }
    key = (project / "proxy/tls/key.pem").read_bytes()
    spec = write_spec(project.parent / "scaled.yaml", scaled)

    result = cli("update", project, "--spec", spec)

    assert result.exit_code == 0, result.stderr
    assert "mvc → scaled" in result.stderr
    assert "archgen down --volumes" in result.stderr and "start empty" in result.stderr
    assert (project / "archgen.yaml").read_text() == spec.read_text()
    assert (project / "lb/tls/key.pem").read_bytes() == key  # the same certificate follows the edge
    assert not (project / "proxy/nginx.conf").exists()  # untouched by you: removed with the mvc edge
    assert "app-2" in yaml.safe_load((project / "compose.yaml").read_text())["services"]


def test_a_new_project_name_says_how_to_remove_the_old_stack(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    change_spec(project, name="boutique")
    result = cli("update", project)
    assert result.exit_code == 0, result.stderr
    assert "archgen down -p shop" in result.stderr
    assert yaml.safe_load((project / "compose.yaml").read_text())["name"] == "boutique"


def test_upgrading_from_an_older_template_version_keeps_your_edits(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    # Simulate a render made by older templates: the record and the files hold the old
    # versions (an older crud.py line, no test_cache.py yet), then the user edited crud.py.
    record_path = project / ".archgen/pristine.json"
    record = json.loads(record_path.read_text())
    crud = "app/src/app/controllers/crud.py"
    current = (project / crud).read_text()
    marker = '"""Routes for /api/<plural>. GETs are served through the Redis cache."""'
    older = current.replace(marker, '"""Routes for /api/<plural>."""')
    assert older != current
    record["files"][crud] = older.split("\n")
    del record["files"]["app/tests/unit/test_cache.py"]
    (project / "app/tests/unit/test_cache.py").unlink()
    record["archgen"] = "0.0.1"
    record_path.write_text(json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    (project / crud).write_text(older.replace('JSON = "application/json"\n',
                                              'JSON = "application/json"\nAUDIT = True  # mine\n'))

    result = cli("update", project, "--json")

    assert result.exit_code == 0, result.stderr
    actions = {f["path"]: f["action"] for f in result.json["files"]}
    assert result.json["rendered_by"] == "0.0.1"
    assert actions[crud] == "merged" and actions["app/tests/unit/test_cache.py"] == "create"
    text = (project / crud).read_text()
    assert "AUDIT = True  # mine" in text and marker in text
    assert (project / "app/tests/unit/test_cache.py").is_file()


def test_a_project_without_a_record_is_refused_with_a_way_out(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    (project / ".archgen/pristine.json").unlink()
    result = cli("update", project)
    assert result.exit_code == 2
    assert "pristine" in result.stderr and "--force" in result.stderr


def test_an_edited_file_archgen_no_longer_renders_is_kept(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    conf = project / "proxy/nginx.conf"
    conf.write_text(conf.read_text() + "# mine\n")
    change_spec(project, proxy={"kind": "haproxy"})
    result = cli("update", project, "--json")
    assert result.exit_code == 0, result.stderr
    actions = {f["path"]: f["action"] for f in result.json["files"]}
    assert actions["proxy/nginx.conf"] == "orphaned" and conf.read_text().endswith("# mine\n")
    assert actions["proxy/haproxy.cfg"] == "create"


def test_a_file_you_made_where_archgen_now_renders_one_is_a_conflict(cli, project: Path) -> None:  # type: ignore[no-untyped-def]
    (project / "proxy/haproxy.cfg").write_text("global\n  # my own haproxy\n")
    change_spec(project, proxy={"kind": "haproxy"})
    result = cli("update", project, "--json")
    assert result.exit_code == 3
    assert result.json["conflicts"] == ["proxy/haproxy.cfg"]
    assert (project / "proxy/haproxy.cfg").read_text().startswith("<<<<<<< yours\n")


def test_passwords_of_an_older_project_move_from_env_to_secret_files(  # type: ignore[no-untyped-def]
        cli, project: Path) -> None:
    # Rendered before passwords were files: they were .env variables, and the database was
    # initialised with them, so the files must take those values over.
    shutil.rmtree(project / "secrets")
    env = project / ".env"
    env.write_text(env.read_text() + "POSTGRES_PASSWORD=old-superuser\nREDIS_PASSWORD=old-redis\n")

    result = cli("update", project)

    assert result.exit_code == 0, result.stderr
    assert (project / "secrets/postgres_password").read_text() == "old-superuser"
    assert (project / "secrets/redis_password").read_text() == "old-redis"
    assert len((project / "secrets/postgres_app_password").read_text()) >= 32
    assert (project / "secrets").stat().st_mode & 0o777 == 0o700
