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
    services: list[str] | None = typer.Argument(
        None,
        metavar="SERVICE",
        help="Only these services (and what they depend on); their profiles are enabled.",
        show_default=False,
    ),
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

    Example: archgen up --wait --timeout 120  (or: archgen up --wait app)
    """
    from archgen.cli._commands import run_up

    return run_up(
        terminal,
        project_dir,
        project_name,
        services=services or (),
        wait=wait,
        timeout=timeout,
        build=build,
        pull=pull.value if pull else None,
        force_recreate=force_recreate,
        remove_orphans=remove_orphans,
        dry_run=dry_run,
        as_json=as_json,
        profiles=profile,
    )
