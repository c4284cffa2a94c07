"""`archgen check` and `archgen update` are commands with help, an example, and input checks."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize("command", ["check", "update"])
def test_help_has_an_example(cli, command: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_check_refuses_a_folder_that_is_not_a_project(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", tmp_path)
    assert result.exit_code == 2
    assert "not an archgen project" in result.stderr


def test_check_refuses_an_invalid_spec_before_touching_the_engine(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "bad.yaml"
    spec.write_text("name: shop\narchitecture: nope\n")
    result = cli("check", spec)
    assert result.exit_code == 2
    assert "architecture" in result.stderr
