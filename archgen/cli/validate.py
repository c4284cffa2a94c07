"""The `validate` command: check a spec against the schema and the semantic rules."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import app, terminal


@app.command()
def validate(
    spec: Path = typer.Argument(..., help="The spec file (YAML).", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> int:
    """Validate a spec; every problem is reported with file, line, column and path.

    Example: archgen validate archgen.yaml --json
    """
    from archgen.errors import SpecError
    from archgen.model import resolve
    from archgen.spec import load_spec

    try:
        loaded = load_spec(spec)
    except SpecError as error:
        if not as_json:
            raise
        terminal.json({"valid": False, "file": str(spec),
                       "problems": [p.as_dict() for p in error.problems]})
        return int(error.exit_code)
    architecture = resolve(loaded)
    if as_json:
        terminal.json({"valid": True, "file": str(spec), "name": loaded.name,
                       "architecture": loaded.architecture,
                       "components": [n.id for n in architecture.nodes]})
    else:
        terminal.success(f"{spec}: valid {loaded.architecture} spec "
                         f"({len(architecture.nodes)} components)")
    return 0
