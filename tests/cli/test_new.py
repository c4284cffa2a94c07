"""`archgen new`: renders, refuses, checks drift, dry-runs, keeps secrets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from tests.helpers import EXAMPLES


def test_new_without_spec_renders_the_builtin_mvc_example(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "shop"
    result = cli("new", "-o", target)
    assert result.exit_code == 0, result.stderr
    assert (target / "archgen.yaml").read_text() == (EXAMPLES / "mvc.yaml").read_text()
    compose = yaml.safe_load((target / "compose.yaml").read_text())
    assert set(compose["services"]) == {"proxy", "app", "db", "redis", "app-test"}


def test_new_refuses_a_non_empty_target_without_force(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "shop"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    result = cli("new", "-o", target)
    assert result.exit_code == 2
    assert "is not empty" in result.stderr and "--force" in result.stderr
    assert [p.name for p in target.iterdir()] == ["mine.txt"]


def test_force_rerender_keeps_env_tls_and_user_files(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "shop"
    assert cli("new", "-o", target).exit_code == 0
    env_before = (target / ".env").read_text()
    key_before = (target / "proxy/tls/key.pem").read_bytes()
    (target / "notes.md").write_text("mine")
    (target / "compose.yaml").write_text("edited\n")
    result = cli("new", "-o", target, "--force")
    assert result.exit_code == 0, result.stderr
    assert (target / ".env").read_text() == env_before
    assert (target / "proxy/tls/key.pem").read_bytes() == key_before
    assert (target / "notes.md").read_text() == "mine"
    assert (target / "compose.yaml").read_text() != "edited\n"


def test_check_reports_drifted_files_and_exits_1(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "shop"
    assert cli("new", "-o", target).exit_code == 0
    assert cli("new", "-o", target, "--check").exit_code == 0
    (target / "Makefile").write_text("changed\n")
    (target / "README.md").unlink()
    result = cli("new", "-o", target, "--check")
    assert result.exit_code == 1
    assert "overwrite Makefile" in result.stderr
    assert "create    README.md" in result.stderr
    as_json = cli("new", "-o", target, "--check", "--json")
    assert as_json.exit_code == 1
    drifted = {f["path"]: f["action"] for f in as_json.json["files"] if f["action"] != "unchanged"}
    assert drifted == {"Makefile": "overwrite", "README.md": "create"}


def test_dry_run_lists_files_and_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "shop"
    result = cli("new", "-o", target, "--dry-run")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "create    compose.yaml" in lines
    assert "create    .env" in lines
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_json_output_lists_every_written_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("new", "-o", tmp_path / "shop", "--json")
    assert result.exit_code == 0
    paths = {f["path"] for f in result.json["files"]}
    assert {"compose.yaml", ".env", ".env.example", "archgen.yaml", "README.md"} <= paths


def test_secret_files_are_random_and_private(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = tmp_path / "a", tmp_path / "b"
    cli("new", "-o", first)
    cli("new", "-o", second)
    secrets = {p.name: p.read_text() for p in (first / "secrets").iterdir()}
    other = {p.name: p.read_text() for p in (second / "secrets").iterdir()}
    assert secrets and set(secrets) == set(other)
    example = (first / ".env.example").read_text()
    env = (first / ".env").read_text()
    for name, value in secrets.items():
        assert len(value) >= 32 and value != other[name]
        assert value not in example and value not in env
        assert f"secrets/{name}" in example  # listed for whoever copies the example
        assert stat.S_IMODE(os.stat(first / "secrets" / name).st_mode) == 0o644
    # Only the owner reaches the files; inside a container its own user reads them.
    assert stat.S_IMODE(os.stat(first / "secrets").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(first / ".env").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(first / "proxy/tls/key.pem").st_mode) == 0o600
    ignored = (first / ".gitignore").read_text().splitlines()
    assert {".env", "secrets/", "proxy/tls/"} <= set(ignored)


def test_architecture_without_blueprint_says_not_available_yet(
        cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    # Every architecture renders today: pretend one does not.
    from dataclasses import replace

    from archgen.model import registry

    monkeypatch.setitem(registry.REGISTRY, "microservices",
                        replace(registry.REGISTRY["microservices"], renders=False))
    result = cli("new", EXAMPLES / "microservices.yaml", "-o", tmp_path / "m")
    assert result.exit_code == 2
    assert "not available yet" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: shop\n")
    quiet = subprocess.run([sys.executable, "-m", "archgen", "validate", str(bad)],
                           capture_output=True, text=True, check=False)
    loud = subprocess.run([sys.executable, "-m", "archgen", "--debug", "validate", str(bad)],
                          capture_output=True, text=True, check=False)
    assert quiet.returncode == 2 and "Traceback" not in quiet.stderr
    assert "Traceback" in loud.stderr
