"""The `restart` command: restart the project's containers, dependencies first."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal


@app.command()
def restart(
    services: list[str] | None = typer.Argument(
        None, metavar="SERVICE", help="Only these services (default: all).", show_default=False
    ),
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    timeout: float | None = typer.Option(
        None,
        "--timeout",
        "-t",
        metavar="S",
        help="Seconds to wait for each container to stop before killing it (default: its stop_grace_period).",
    ),
    wait: bool = typer.Option(
        False, "--wait", help="After each service, wait until it is healthy (or running, or completed)."
    ),
    wait_timeout: float = typer.Option(
        300.0, "--wait-timeout", metavar="S", help="Seconds --wait may take in all (0: no limit)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the restarted containers as JSON on stdout."),
) -> int:
    """Restart the project's containers (or those of the named services) in dependency order.

    The replicas of one service restart together; a service restarts after the
    ones it depends on. Containers keep their config: `archgen up` applies changes.

    Example: archgen restart api --wait
    """
    from archgen.runtime.compose import load_project
    from archgen.runtime.engine import Engine
    from archgen.runtime.progress import make_progress
    from archgen.runtime.restart import restart as restart_services
    from archgen.runtime.restart import restart_order

    project = load_project(project_dir, name=project_name, profiles=["*"])
    order = restart_order(project, services or [])
    engine = Engine.connect()
    with make_progress(terminal, order) as progress:
        result = restart_services(
            project, engine, progress, services or [], timeout=timeout, wait=wait,
            wait_timeout=wait_timeout or None,
        )  # fmt: skip
    if as_json:
        terminal.json(result.as_dict())
    count = sum(len(names) for names in result.services.values())
    names = ", ".join(result.services)
    terminal.success(f"project {project.name}: restarted {count} container(s) of {names}")
    return 0
