"""The `config` command: the resolved compose model, as `docker compose config` prints it."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal


@app.command()
def config(
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
    services: bool = typer.Option(False, "--services", help="Print the service names, one a line."),
    volumes: bool = typer.Option(False, "--volumes", help="Print the named volume keys, one a line."),
    profile: list[str] = typer.Option(
        [], "--profile", metavar="NAME", help="Enable services of this compose profile (repeatable)."
    ),
) -> int:
    """Print compose.yaml as archgen resolves it: interpolated, normalised, merged.

    Every service key is spelled out (environment from env_file merged, absolute
    paths, durations in seconds, sizes in bytes); loading the output gives the same
    project. Keys come in a stable order.

    Example: archgen config --json
    """
    from archgen.runtime.compose import load_project
    from archgen.runtime.config_view import compose_dict, render_json, render_yaml

    project = load_project(project_dir, name=project_name, profiles=profile)
    for warning in project.warnings:
        terminal.warn(warning)
    if services or volumes:
        names = list(project.active) if services else []
        names += list(project.volumes) if volumes else []
        if as_json:
            listing: dict[str, list[str]] = {}
            if services:
                listing["services"] = list(project.active)
            if volumes:
                listing["volumes"] = list(project.volumes)
            terminal.data(render_json(listing))
        else:
            for name in names:
                terminal.data(name)
        return 0
    document = compose_dict(project)
    terminal.data(render_json(document) if as_json else render_yaml(document))
    return 0
