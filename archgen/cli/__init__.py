"""Command-line entry point: `main()` handles errors around the Typer program."""

from __future__ import annotations

import os
import sys

from archgen.errors import ArchgenError, ExitCode


def _load_commands() -> None:
    # Each module registers its command on import; they import only Typer at the
    # top so `archgen --help` stays fast. The heavy core loads inside commands.
    from archgen.cli import (  # noqa: F401
        blueprints,
        diagram,
        init,
        logs,
        new,
        schema,
        status,
        up,
        validate,
    )
    from archgen.cli import down as _down  # noqa: F401


def program(argv: list[str]) -> int:
    """Run one command without catching archgen's errors (tests and --debug use this)."""
    import click

    from archgen.cli._app import app

    _load_commands()
    import typer.main

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="archgen", standalone_mode=False)
    except click.exceptions.Exit as done:
        return int(done.exit_code)
    return int(result) if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    """Run archgen and turn every expected failure into a message and an exit code."""
    import click

    from archgen.cli._app import terminal

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or bool(os.environ.get("ARCHGEN_DEBUG"))
    try:
        return program(args)
    except ArchgenError as error:
        if debug:
            raise
        terminal.error(error.render())
        return int(error.exit_code)
    except click.exceptions.Abort:
        terminal.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        if debug:
            raise
        terminal.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except click.ClickException as error:
        if debug:
            raise
        error.show(file=sys.stderr)
        return int(ExitCode.BAD_INPUT)
