"""Command-line entry point: `main()` handles errors around the Typer program."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

from archgen.errors import ArchgenError, ExitCode


def _load_commands() -> None:
    # Each module registers its command on import; they import only Typer at the
    # top so `archgen --help` stays fast. The heavy core loads inside commands.
    from archgen.cli import (  # noqa: F401
        blueprints,
        build,
        check,
        config,
        deploy,
        diagram,
        down,
        exec,
        export,
        init,
        logs,
        new,
        pull,
        restart,
        run,
        schema,
        status,
        up,
        update,
        validate,
    )


def _command() -> Any:
    import typer.main

    from archgen.cli._app import app

    _load_commands()
    return typer.main.get_command(app)


def _click_exceptions() -> ModuleType:
    # Recent Typer vendors Click as `typer._click`; older Typer uses Click itself.
    try:
        return importlib.import_module("typer._click.exceptions")
    except ImportError:
        return importlib.import_module("click.exceptions")


def program(argv: list[str]) -> int:
    """Run one command without catching archgen's errors (tests and --debug use this)."""
    import typer

    command = _command()
    exits = tuple(cls for cls in (typer.Exit, getattr(_click_exceptions(), "Exit", None)) if cls is not None)
    try:
        result = command.main(args=argv, prog_name="archgen", standalone_mode=False)
    except exits as done:
        return int(getattr(done, "exit_code", 0))
    return int(result) if isinstance(result, int) else 0


def main(argv: list[str] | None = None) -> int:
    """Run archgen and turn every expected failure into a message and an exit code."""
    from archgen.cli._fast import run as fast_path
    from archgen.cli._output import terminal

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or bool(os.environ.get("ARCHGEN_DEBUG"))
    try:
        done = fast_path(args)
        return done if done is not None else program(args)
    except ArchgenError as error:
        if debug:
            raise
        terminal.error(error.render())
        return int(error.exit_code)
    except KeyboardInterrupt:
        if debug:
            raise
        terminal.error("interrupted")
        return int(ExitCode.INTERRUPTED)
    except OSError as error:
        # Disk full, permission denied, a folder vanished: say which file, not a traceback.
        if debug:
            raise
        where = f": {error.filename}" if error.filename else ""
        terminal.error(f"{error.strerror or error}{where}")
        return int(ExitCode.FAILURE)
    except Exception as error:
        # Typer and Click are imported only here, so the fast path never pays for them.
        import typer

        exceptions = _click_exceptions()
        aborts = tuple(c for c in (typer.Abort, getattr(exceptions, "Abort", None)) if c is not None)
        if debug:
            raise
        if isinstance(error, aborts):
            terminal.error("interrupted")
            return int(ExitCode.INTERRUPTED)
        if isinstance(error, exceptions.ClickException):
            error.show(file=sys.stderr)
            return int(ExitCode.BAD_INPUT)
        raise
