"""The `logs` command: the project's container output, one coloured prefix per service."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal

PALETTE = ("36", "35", "32", "33", "34", "91", "96", "95", "92", "93")


@app.command()
def logs(
    services: list[str] = typer.Argument(
        None, help="Only these services (default: all).", show_default=False
    ),
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep following, including containers created later."
    ),
    tail: str = typer.Option(
        "all", "--tail", "-n", metavar="N", help="Lines to show from the end of each log."
    ),
    since: str | None = typer.Option(
        None, "--since", metavar="T", help="Only lines since T: a duration (10m), a Unix time or a timestamp."
    ),
) -> int:
    """Print the output of the project's containers, each line prefixed with its service.

    With -f, new output is printed as it comes until every container has stopped
    (or Ctrl-C).

    Example: archgen logs api db -f --tail 20
    """
    import os
    import sys

    from archgen.errors import ArgumentError
    from archgen.runtime.compose import project_name_only
    from archgen.runtime.engine import Engine
    from archgen.runtime.logs import LogLine, parse_since, past
    from archgen.runtime.logs import follow as follow_logs

    if tail != "all" and not tail.isdigit():
        raise ArgumentError(f"--tail: expected a number of lines or 'all', got {tail!r}")
    tail_value: int | str = int(tail) if tail.isdigit() else "all"
    since_value = parse_since(since)
    name = project_name_only(project_dir, project_name)
    engine = Engine.connect()
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    colours: dict[str, str] = {}
    width = [0]

    def emit(line: LogLine) -> None:
        code = colours.setdefault(line.service, PALETTE[len(colours) % len(PALETTE)])
        width[0] = max(width[0], len(line.source))
        prefix = f"{line.source:<{width[0]}} | "
        terminal.data((f"\x1b[{code}m{prefix}\x1b[0m" if colour else prefix) + line.text)

    wanted = list(services or [])
    if not follow:
        lines = past(engine, name, wanted, tail=tail_value, since=since_value)
        width[0] = max((len(line.source) for line in lines), default=0)
        for line in lines:
            emit(line)
        return 0
    try:
        follow_logs(engine, name, wanted, emit, tail=tail_value, since=since_value)
    except KeyboardInterrupt:
        return 0
    return 0
