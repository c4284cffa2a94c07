"""The `exec` command: run a command in a service's running container."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app


def stdin_usable() -> bool:
    """True when archgen's stdin is a real file descriptor (not closed, not a test double)."""
    try:
        return sys.stdin is not None and sys.stdin.fileno() >= 0
    except (AttributeError, ValueError, OSError):
        return False


def use_tty(no_tty: bool) -> bool:
    """A TTY when both ends are terminals and -T was not given (as `docker compose` decides)."""
    try:
        return not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


@app.command(
    "exec", context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True}
)
def exec_(
    service: str = typer.Argument(..., metavar="SERVICE", help="The service whose container runs it."),
    command: list[str] = typer.Argument(..., metavar="CMD...", help="The command and its arguments."),
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    index: int = typer.Option(1, "--index", metavar="N", help="The replica to use (default: 1)."),
    no_tty: bool = typer.Option(False, "-T", "--no-tty", help="No pseudo-TTY, even on a terminal."),
    interactive: bool = typer.Option(
        True, "--interactive/--no-interactive", "-i", help="Forward stdin to the command (default: on)."
    ),
    user: str | None = typer.Option(None, "--user", "-u", metavar="USER", help="Run as this user."),
    workdir: str | None = typer.Option(None, "--workdir", "-w", metavar="DIR", help="Working directory."),
    env: list[str] = typer.Option([], "--env", "-e", metavar="KEY=VAL", help="Set a variable (repeatable)."),
) -> int:
    """Run CMD in the running container of SERVICE; its exit code becomes archgen's.

    Options go before SERVICE; everything after SERVICE is the command. A TTY is
    allocated when archgen runs on a terminal (-T disables it); stdin is forwarded.

    Example: archgen exec -e DEBUG=1 db psql -U app -c 'select 1'
    """
    from archgen.runtime.compose import project_name_only
    from archgen.runtime.engine import Engine
    from archgen.runtime.exec import ExecOptions, exec_command, parse_env

    name = project_name_only(project_dir, project_name)
    options = ExecOptions(
        command=tuple(command),
        index=index,
        tty=use_tty(no_tty),
        interactive=interactive and stdin_usable(),
        user=user,
        workdir=workdir,
        environment=parse_env(env),
    )
    return exec_command(Engine.connect(), name, service, options)
