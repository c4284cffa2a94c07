"""The `status` command: the project's containers, their state, health, ports and uptime."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal


@app.command()
def status(
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON list on stdout."),
) -> int:
    """Show each container of the project: service, container, state, health, published ports, uptime.

    Health is the engine's own healthcheck state. Containers serving a local UI (Prometheus,
    Jaeger, Grafana, Keycloak admin, RabbitMQ management) show its URL in a UI column.

    Example: archgen status --json
    """
    from archgen.cli._commands import run_status

    return run_status(terminal, project_dir, project_name, as_json)
