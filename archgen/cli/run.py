"""The `run` command: a one-off container from a service's config."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import PROJECT_DIR_OPTION, PROJECT_NAME_OPTION, app, terminal


@app.command(context_settings={"allow_interspersed_args": False, "ignore_unknown_options": True})
def run(
    service: str = typer.Argument(..., metavar="SERVICE", help="The service whose config to use."),
    command: list[str] | None = typer.Argument(
        None, metavar="[CMD...]", help="The command (default: the service's).", show_default=False
    ),
    project_dir: Path | None = PROJECT_DIR_OPTION,
    project_name: str | None = PROJECT_NAME_OPTION,
    remove: bool = typer.Option(False, "--rm", help="Remove the container when it exits."),
    no_deps: bool = typer.Option(False, "--no-deps", help="Do not start the services it depends on."),
    service_ports: bool = typer.Option(
        False, "--service-ports", help="Publish the service's ports (off by default: they would clash)."
    ),
    entrypoint: str | None = typer.Option(
        None, "--entrypoint", metavar="CMD", help="Override the image's entrypoint (split like a shell)."
    ),
    env: list[str] = typer.Option([], "--env", "-e", metavar="KEY=VAL", help="Set a variable (repeatable)."),
    no_tty: bool = typer.Option(False, "-T", "--no-tty", help="No pseudo-TTY, even on a terminal."),
    interactive: bool = typer.Option(
        True, "--interactive/--no-interactive", "-i", help="Forward stdin to the container (default: on)."
    ),
    user: str | None = typer.Option(None, "--user", "-u", metavar="USER", help="Run as this user."),
    workdir: str | None = typer.Option(None, "--workdir", "-w", metavar="DIR", help="Working directory."),
    name: str | None = typer.Option(None, "--name", metavar="NAME", help="Container name."),
    timeout: float = typer.Option(
        300.0, "--timeout", metavar="S", help="Seconds to wait for dependency conditions (0: no limit)."
    ),
) -> int:
    """Run a one-off container of SERVICE (its image, environment, volumes and networks); exit with its code.

    The services it depends on are brought up first (as `archgen up` would), unless
    --no-deps. The container is not reachable under the service's name, publishes no
    ports unless --service-ports, is labelled as one-off and named
    <project>-<service>-run-<id>; `archgen down` removes it, --rm right away.

    Example: archgen run --rm api python manage.py migrate
    """
    import shlex

    from archgen.cli.exec import stdin_usable, use_tty
    from archgen.runtime.compose import load_project
    from archgen.runtime.converge import UpOptions
    from archgen.runtime.converge import up as converge
    from archgen.runtime.engine import Engine
    from archgen.runtime.exec import parse_env
    from archgen.runtime.oneoff import RunOptions, prepare, run_oneoff, wait_for_dependencies
    from archgen.runtime.progress import make_progress

    project = load_project(project_dir, name=project_name, targets=[service])
    svc = project.services[service]
    engine = Engine.connect()
    deps = [d.service for d in svc.depends_on if d.service in project.active]
    if deps and not no_deps:
        up_project = load_project(project_dir, name=project_name, targets=deps)
        with make_progress(terminal, up_project.active) as progress:
            converge(up_project, engine, UpOptions(timeout=timeout or None), progress)
        wait_for_dependencies(project, engine, svc, timeout or None)
    if engine.image_id(svc.image) is None:
        with make_progress(terminal, [service]) as progress:
            progress.set(service, "building" if svc.build else "pulling", svc.image)
            prepare(project, engine, svc, lambda line: progress.line(service, line))
            progress.set(service, "built" if svc.build else "pulled", svc.image)
    else:
        prepare(project, engine, svc, lambda line: None)
    tty = use_tty(no_tty)
    options = RunOptions(
        command=tuple(command or ()),
        entrypoint=tuple(shlex.split(entrypoint)) if entrypoint is not None else None,
        environment=parse_env(env),
        remove=remove,
        service_ports=service_ports,
        tty=tty,
        interactive=interactive and stdin_usable(),
        user=user,
        workdir=workdir,
        name=name,
    )
    result = run_oneoff(project, engine, service, options)
    if not remove:
        terminal.info(f"one-off container {result.name} exited with code {result.exit_code}")
    return result.exit_code
