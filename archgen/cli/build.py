"""The `build` command: build the images of the project's `build:` services."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal


@app.command()
def build(
    services: list[str] | None = typer.Argument(
        None, metavar="SERVICE", help="Only these services (default: all with `build:`).", show_default=False
    ),
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the build cache."),
    pull: bool = typer.Option(False, "--pull", help="Ask the engine to pull newer base images."),
    as_json: bool = typer.Option(False, "--json", help="Print the built images as JSON on stdout."),
) -> int:
    """Build the images of `build:` services (in parallel), streaming their output.

    Example: archgen build --no-cache api
    """
    from archgen.runtime.compose import load_project
    from archgen.runtime.engine import Engine
    from archgen.runtime.images import build_images, selected
    from archgen.runtime.progress import make_progress

    project = load_project(project_dir, name=project_name, profiles=["*"], targets=services or [])
    names = [s.name for s in selected(project, services or []) if s.build is not None]
    engine = Engine.connect()
    with make_progress(terminal, names) as progress:
        result = build_images(project, engine, progress, services or [], no_cache=no_cache, pull=pull)
    for warning in result.warnings:
        terminal.warn(warning)
    if as_json:
        terminal.json(result.as_dict())
    terminal.success(f"project {project.name}: built {len(result.images)} image(s)")
    return 0
