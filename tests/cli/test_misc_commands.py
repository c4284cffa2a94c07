"""`validate`, `schema`, `blueprints`, `--version`, help texts and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.helpers import EXAMPLES

COMMANDS = ["init", "validate", "new", "blueprints", "schema", "diagram", "up", "down", "status", "logs"]


def test_schema_prints_the_json_schema(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_blueprints_json_says_which_render(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("blueprints", "--json")
    rows = {row["architecture"]: row["renders"] for row in result.json}
    assert rows["mvc"] is True
    assert set(rows) == {"mvc", "scaled", "microservices"}


def test_version(cli) -> None:  # type: ignore[no-untyped-def]
    from archgen import __version__

    result = cli("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


def test_unknown_command_and_option_are_bad_input(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("frobnicate").exit_code == 2
    assert cli("new", "--bogus").exit_code == 2


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(cli, command: str) -> None:  # type: ignore[no-untyped-def]
    result = cli(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_validate_valid_example_prints_a_summary(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("validate", EXAMPLES / "mvc.yaml", "--json")
    assert result.exit_code == 0
    assert result.json == {"valid": True, "file": str(EXAMPLES / "mvc.yaml"), "name": "shop",
                           "architecture": "mvc", "components": ["proxy", "app", "db", "redis"]}


def test_help_does_not_import_the_heavy_libraries() -> None:
    code = ("import sys; from archgen.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('copier', 'docker', 'jsonschema', 'rich', 'yaml') if m in sys.modules]\n"
            "print('HEAVY=' + ','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY="
