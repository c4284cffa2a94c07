"""The `pull` command: pull the images of the project's `image:` services."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal


class Policy(StrEnum):
    """Which images to pull."""

    always = "always"
    missing = "missing"


@app.command()
def pull(
    services: list[str] | None = typer.Argument(
        None, metavar="SERVICE", help="Only these services (default: all).", show_default=False
    ),
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    policy: Policy = typer.Option(
        Policy.always, "--policy", help="always: pull every image; missing: only those not present."
    ),
    ignore_pull_failures: bool = typer.Option(
        False, "--ignore-pull-failures", help="Warn about images that fail to pull, and exit 0."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print what happened to each image as JSON."),
) -> int:
    """Pull the images of services without `build:` (in parallel).

    Example: archgen pull --policy missing
    """
    from archgen.runtime.compose import load_project
    from archgen.runtime.engine import Engine
    from archgen.runtime.images import pull_images, pull_targets, selected
    from archgen.runtime.progress import make_progress

    project = load_project(project_dir, name=project_name, profiles=["*"], targets=services or [])
    refs = pull_targets(selected(project, services or []))
    engine = Engine.connect()
    with make_progress(terminal, [users[0] for users in refs.values()]) as progress:
        result = pull_images(
            project, engine, progress, services or [],
            policy=policy.value, ignore_failures=ignore_pull_failures,
        )  # fmt: skip
    for warning in result.warnings:
        terminal.warn(warning)
    if as_json:
        terminal.json(result.as_dict())
    counts: dict[str, int] = {}
    for entry in result.images.values():
        counts[str(entry["action"])] = counts.get(str(entry["action"]), 0) + 1
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "no image to pull"
    terminal.success(f"project {project.name}: {summary}")
    return 0
