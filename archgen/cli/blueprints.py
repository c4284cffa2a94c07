"""The `blueprints` command: what each architecture offers and whether it renders yet."""

from __future__ import annotations

import typer

from archgen.cli._app import app, terminal


@app.command()
def blueprints(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the blueprints: what each renders and whether it is available.

    Example: archgen blueprints --json
    """
    from archgen.model.registry import REGISTRY
    from archgen.render import available_blueprints

    ready = available_blueprints()
    rows = [
        {"architecture": name, "renders": name in ready, "offers": entry.offers}
        for name, entry in REGISTRY.items()
    ]
    if as_json:
        terminal.json(rows)
        return
    for row in rows:
        state = "renders" if row["renders"] else "diagram and validate only (not available yet)"
        terminal.data(f"{row['architecture']:14} {state}\n{'':14} {row['offers']}")
