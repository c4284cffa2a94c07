"""The `init` command: write a commented starter spec that validates."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import app, terminal


@app.command()
def init(
    architecture: str = typer.Option(
        "mvc", "--architecture", "-a", help="mvc, scaled or microservices."
    ),
    output: Path = typer.Option(Path("archgen.yaml"), "--output", "-o",
                                help="Where to write the spec; '-' for stdout."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter spec for an architecture.

    Example: archgen init --architecture scaled -o shop.yaml
    """
    from archgen.errors import ArgumentError, TargetExistsError
    from archgen.resources import examples_dir

    starter = examples_dir() / f"{architecture}.yaml"
    if not starter.is_file():
        raise ArgumentError(f"unknown architecture {architecture!r}",
                            hint="choose mvc, scaled or microservices")
    text = starter.read_text(encoding="utf-8")
    if str(output) == "-":
        terminal.data(text)
        return
    if output.exists() and not force:
        raise TargetExistsError(f"{output} already exists", hint="pass --force to overwrite it")
    if not output.parent.is_dir():
        raise ArgumentError(f"the folder {output.parent} does not exist",
                            hint="create it first, or choose another --output")
    output.write_text(text, encoding="utf-8")
    terminal.success(f"wrote {output}; next: archgen new {output} -o <dir>")
