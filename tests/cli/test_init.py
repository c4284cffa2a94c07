"""`archgen init`: commented starter specs that validate."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("architecture", ["mvc", "scaled", "microservices"])
def test_init_writes_a_commented_spec_that_validates(cli, tmp_path: Path, architecture: str) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "spec.yaml"
    assert cli("init", "--architecture", architecture, "-o", target).exit_code == 0
    text = target.read_text()
    assert text.lstrip().startswith("#")
    result = cli("validate", target, "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json["architecture"] == architecture


def test_init_refuses_to_overwrite_without_force(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "spec.yaml"
    target.write_text("mine")
    assert cli("init", "-o", target).exit_code == 2
    assert target.read_text() == "mine"
    assert cli("init", "-o", target, "--force").exit_code == 0


def test_init_unknown_architecture_is_bad_input(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", "--architecture", "serverless", "-o", tmp_path / "x.yaml")
    assert result.exit_code == 2
    assert "unknown architecture" in result.stderr


def test_init_into_a_missing_folder_is_bad_input_without_traceback(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init", "-o", tmp_path / "missing" / "spec.yaml")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
