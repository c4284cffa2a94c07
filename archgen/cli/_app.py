"""The Typer application and the options every command shares."""

from __future__ import annotations

import typer

from archgen import __version__
from archgen.cli._output import terminal

app = typer.Typer(
    name="archgen",
    help=(
        "Turn a short YAML description of a backend architecture into a runnable "
        "project, run it on the local Docker engine, and draw it.\n\n"
        "Example: archgen init -o shop.yaml && archgen new shop.yaml -o shop && "
        "cd shop && archgen up --wait"
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Options shared by the commands that act on a rendered project (one definition each).
PROJECT_DIR_OPTION = typer.Option(
    None, "-C", "--project-dir", help="The project directory (default: the current one).",
    show_default=False,
)
PROJECT_NAME_OPTION = typer.Option(
    None, "-p", "--project-name",
    help="Project name (default: `name:` in archgen.yaml, then compose.yaml).",
)

__all__ = ["PROJECT_DIR_OPTION", "PROJECT_NAME_OPTION", "app", "terminal"]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"archgen {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only data and errors."),
) -> None:
    """Generate, run and draw backend architectures."""
    terminal.debug = debug
    terminal.quiet = quiet
