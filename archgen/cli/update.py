"""The `update` command: re-render a project and three-way merge it with your edits."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import app, terminal


@app.command()
def update(
    project_dir: Path = typer.Argument(
        Path("."), help="The project directory (default: the current one).", show_default=False
    ),
    spec: Path | None = typer.Option(
        None, "--spec", metavar="FILE", help="Replace archgen.yaml with FILE first.", show_default=False
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="List what would change; write nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> int:
    """Re-render after a spec change or an archgen upgrade, keeping your edits.

    A three-way merge of the pristine render the project was made from
    (.archgen/pristine.json), your files and the new render: edits that do not
    overlap archgen's changes are kept, overlapping ones are written with
    conflict markers (<<<<<<< yours / ======= / >>>>>>> archgen) and the command
    exits 3. Files you deleted stay deleted; .env keeps its values and only gains
    new variables; the TLS pair is kept.

    Example: archgen update shop --spec shop-v2.yaml --dry-run
    """
    from archgen.errors import ConflictError
    from archgen.render import update_project

    result = update_project(project_dir, spec_file=spec, dry_run=dry_run)
    if as_json:
        terminal.json(result.as_dict())
    else:
        for change in result.files:
            if change.action != "unchanged":
                detail = f"  ({change.detail})" if change.detail else ""
                terminal.data(f"{change.action:9} {change.path}{detail}")
        for note in result.notes:
            terminal.warn(note)
    verb = "would change" if dry_run else "changed"
    if result.conflicts:
        listing = "\n".join(f"  {f.path}: {f.detail}" for f in result.conflicts)
        raise ConflictError(
            f"{len(result.conflicts)} file(s) with conflicts"
            + (" (nothing written: --dry-run)" if dry_run else "") + f":\n{listing}",
            hint="resolve the marked regions, then commit" if not dry_run else None,
            details=result.as_dict(),
        )
    terminal.success(f"{project_dir}: {verb} {len(result.changed)} file(s); "
                     f"{result.old_architecture} → {result.new_architecture}"
                     if result.old_architecture != result.new_architecture
                     else f"{project_dir}: {verb} {len(result.changed)} file(s)")
    return 0
