"""The `new` command: render a project from a spec (or the built-in example)."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import app, terminal


@app.command()
def new(
    spec: Path | None = typer.Argument(
        None, help="The spec file; without it, the built-in MVC example.", show_default=False
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The project directory to write."),
    force: bool = typer.Option(False, "--force",
                               help="Render into a non-empty directory (keeps .env and TLS)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would be written."),
    check: bool = typer.Option(False, "--check",
                               help="Exit 1 listing files in OUTPUT that differ from a render."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> int:
    """Render a complete project from a spec.

    Example: archgen new shop.yaml -o shop
    """
    from archgen.errors import ArgumentError, DriftError
    from archgen.render import Renderer
    from archgen.resources import examples_dir
    from archgen.spec import load_spec

    if dry_run and check:
        raise ArgumentError("--dry-run and --check cannot be combined")
    loaded = load_spec(spec if spec is not None else examples_dir() / "mvc.yaml")
    renderer = Renderer(loaded, output, force=force)
    if check:
        try:
            result = renderer.check()
        except DriftError as error:
            if as_json:
                terminal.json({"drift": True, **error.details})
            raise
        if as_json:
            terminal.json({"drift": False, **result.as_dict()})
        else:
            terminal.success(f"{output}: up to date with {loaded.source}")
        return 0
    result = renderer.dry_run() if dry_run else renderer.write()
    if as_json:
        terminal.json({"dry_run": dry_run, **result.as_dict()})
        return 0
    if dry_run:
        for change in result.files:
            terminal.data(f"{change.action:9} {change.path}")
        return 0
    written = sum(1 for f in result.files if f.action in ("create", "overwrite"))
    terminal.success(f"rendered the {loaded.architecture} project {loaded.name!r} into {output} "
                     f"({written} files written)")
    terminal.info(f"next: cd {output} && archgen up --wait")
    return 0
