"""The `up` command: converge the local Docker engine to the project's compose.yaml."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal


class PullPolicy(StrEnum):
    """When to pull images of `image:` services."""

    missing = "missing"
    always = "always"
    never = "never"


@app.command()
def up(
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    wait: bool = typer.Option(
        False, "--wait", help="Wait until every service is healthy (or running, or completed)."
    ),
    timeout: float = typer.Option(
        300.0, "--timeout", metavar="S", help="Seconds to wait for dependencies and --wait (0: no limit)."
    ),
    build: bool = typer.Option(
        False, "--build", help="Build the images of `build:` services even when present."
    ),
    pull: PullPolicy | None = typer.Option(
        None, "--pull", help="Pull images: missing (default), always or never.", show_default=False
    ),
    force_recreate: bool = typer.Option(
        False, "--force-recreate", help="Recreate containers even if unchanged."
    ),
    remove_orphans: bool = typer.Option(
        False, "--remove-orphans", help="Remove containers of services no longer in compose.yaml."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan and change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan and the result as JSON on stdout."),
    profile: list[str] = typer.Option(
        [], "--profile", metavar="NAME", help="Enable services of this compose profile (repeatable)."
    ),
) -> int:
    """Create or update the project's containers, networks and volumes; unchanged ones are kept.

    Independent services start in parallel, each once its `depends_on` conditions
    hold; a second run with nothing changed does nothing.

    Example: archgen up --wait --timeout 120
    """
    from archgen.runtime.compose import load_project
    from archgen.runtime.converge import UpOptions
    from archgen.runtime.converge import up as converge
    from archgen.runtime.engine import Engine
    from archgen.runtime.plan import Options
    from archgen.runtime.progress import Progress, make_progress

    project = load_project(project_dir, name=project_name, profiles=profile)
    engine = Engine.connect()
    options = UpOptions(
        plan=Options(
            build=build,
            pull=pull.value if pull else None,
            force_recreate=force_recreate,
            remove_orphans=remove_orphans,
        ),
        wait=wait,
        timeout=timeout or None,
        dry_run=dry_run,
    )
    if dry_run:
        result = converge(project, engine, options, Progress())
        if as_json:
            terminal.json(result.as_dict())
        else:
            terminal.data(result.plan.render())
        return 0
    with make_progress(terminal, project.active) as progress:
        result = converge(project, engine, options, progress)
    if as_json:
        terminal.json(result.as_dict())
    if not result.plan.changes and not wait:
        terminal.success(f"project {project.name} is up to date ({len(project.active)} services)")
    else:
        states = ", ".join(f"{name} {r.state}" for name, r in result.services.items())
        terminal.success(f"project {project.name} is up in {result.elapsed:.1f}s: {states}")
    return 0
