"""The `schema` command: print the spec's JSON Schema."""

from __future__ import annotations

from archgen.cli._app import app, terminal


@app.command()
def schema() -> None:
    """Print the JSON Schema (draft 2020-12) every spec is validated against.

    Example: archgen schema > archgen.schema.json
    """
    from archgen.resources import schema_path

    terminal.data(schema_path().read_text(encoding="utf-8"))
