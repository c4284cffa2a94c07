"""The `down` command: stop and remove the project's containers and networks."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal


@app.command()
def down(
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    volumes: bool = typer.Option(False, "--volumes", "-v", help="Also remove the project's named volumes."),
    remove_orphans: bool = typer.Option(
        False, "--remove-orphans", help="Also remove containers of services no longer in compose.yaml."
    ),
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        "-t",
        metavar="S",
        help="Seconds to wait for each container to stop before killing it.",
    ),
) -> int:
    """Stop the project's containers in reverse dependency order (in parallel) and remove them.

    Networks are removed too; named volumes only with --volumes. Containers and
    networks that do not carry the project's label are never touched.

    Example: archgen down --volumes
    """
    from archgen.runtime.compose import load_project
    from archgen.runtime.engine import Engine
    from archgen.runtime.progress import make_progress
    from archgen.runtime.teardown import down as teardown

    project = load_project(project_dir, name=project_name, profiles=["*"])
    engine = Engine.connect()
    with make_progress(terminal, [s for s in reversed(project.active)]) as progress:
        result = teardown(
            project, engine, progress, volumes=volumes, remove_orphans=remove_orphans, timeout=timeout
        )

    def count(items: list[str], noun: str) -> str:
        return f"{len(items)} {noun}" + ("" if len(items) == 1 else "s")

    parts = [count(result.containers, "container"), count(result.networks, "network")]
    if volumes:
        parts.append(count(result.volumes, "volume"))
    terminal.success(f"project {project.name} is down: removed {', '.join(parts)}")
    return 0
