"""A fast path for the commands people run in a loop (`status`, a no-op `up`): no Typer, no Click.

Typer builds a Pydantic adapter for every non-flag option at parse time, and
importing Typer, Click and Pydantic costs about 0.15 s before the first engine
call. For the plain forms of `status` and `up` (-C, -p, --json, -q, up's on/off
flags and service names) argv is read here and the same command body runs; anything
else, including --help, options with values such as --timeout, and every error in
the arguments, goes through Typer as before.
"""

from __future__ import annotations

from pathlib import Path

VALUE_OPTIONS = {"-C": "project_dir", "--project-dir": "project_dir", "-p": "project_name",
                 "--project-name": "project_name"}  # fmt: skip
FLAGS = {"--json": "as_json"}
UP_FLAGS = {"--wait": "wait", "--dry-run": "dry_run", "--build": "build",
            "--force-recreate": "force_recreate", "--remove-orphans": "remove_orphans"}  # fmt: skip
COMMANDS = ("status", "up")


def run(argv: list[str]) -> int | None:
    """Run `argv` when it is a plain `status` or `up`; None to let Typer handle it."""
    parsed = parse(argv)
    if parsed is None:
        return None
    command, quiet, options, services = parsed
    from archgen.cli._commands import run_status, run_up
    from archgen.cli._output import terminal

    terminal.quiet = quiet
    directory, name = options.get("project_dir"), options.get("project_name")
    project_dir = Path(directory) if isinstance(directory, str) else None
    project_name = name if isinstance(name, str) else None
    as_json = bool(options.get("as_json"))
    if command == "status":
        return run_status(terminal, project_dir, project_name, as_json)
    return run_up(
        terminal,
        project_dir,
        project_name,
        services=services,
        as_json=as_json,
        wait=bool(options.get("wait")),
        dry_run=bool(options.get("dry_run")),
        build=bool(options.get("build")),
        force_recreate=bool(options.get("force_recreate")),
        remove_orphans=bool(options.get("remove_orphans")),
    )


def parse(argv: list[str]) -> tuple[str, bool, dict[str, str | bool], list[str]] | None:
    """`[-q] status|up [-C DIR] [-p NAME] [--json] [up's flags] [SERVICE...]` -> parts; None otherwise."""
    quiet = False
    args = list(argv)
    while args and args[0] in ("-q", "--quiet"):
        quiet = True
        args.pop(0)
    if not args or args[0] not in COMMANDS:
        return None
    command = args.pop(0)
    options: dict[str, str | bool] = {}
    services: list[str] = []
    while args:
        arg = args.pop(0)
        name, eq, inline = arg.partition("=")
        if name in VALUE_OPTIONS and (eq or args):
            value = inline if eq else args.pop(0)
            if not value or VALUE_OPTIONS[name] in options:
                return None
            options[VALUE_OPTIONS[name]] = value
        elif arg in FLAGS:
            options[FLAGS[arg]] = True
        elif command == "up" and arg in UP_FLAGS:
            options[UP_FLAGS[arg]] = True
        elif command == "up" and not arg.startswith("-"):
            services.append(arg)
        else:
            return None
    return command, quiet, options, services
