"""The bodies of `status` and `up`, free of Typer: the Typer commands and the fast path both call them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from archgen.terminal import Terminal


def run_status(terminal: Terminal, project_dir: Path | None, project_name: str | None, as_json: bool) -> int:
    from archgen.runtime.compose import project_name_only
    from archgen.runtime.engine import Engine
    from archgen.runtime.status import project_status, render_table
    from archgen.runtime.swarm import render_tasks, swarm_tasks

    name = project_name_only(project_dir, project_name)
    engine = Engine.connect()
    rows = project_status(engine, name)
    tasks = swarm_tasks(engine.api, name)
    if as_json:
        terminal.json([row.as_dict() for row in rows]
                      + [{"kind": "swarm task", **task.as_dict()} for task in tasks])
        return 0
    if not rows and not tasks:
        terminal.info(f"project {name} has no containers")
    if rows:
        terminal.data(render_table(rows))
    if tasks:
        terminal.data(render_tasks(tasks))
    return 0


def run_up(
    terminal: Terminal,
    project_dir: Path | None,
    project_name: str | None,
    *,
    services: Sequence[str] = (),
    wait: bool = False,
    timeout: float = 300.0,
    build: bool = False,
    pull: str | None = None,
    force_recreate: bool = False,
    remove_orphans: bool = False,
    dry_run: bool = False,
    as_json: bool = False,
    profiles: Sequence[str] = (),
) -> int:
    from archgen.runtime.compose import load_project
    from archgen.runtime.converge import UpOptions
    from archgen.runtime.converge import up as converge
    from archgen.runtime.engine import Engine
    from archgen.runtime.plan import Options
    from archgen.runtime.progress import Progress, make_progress

    project = load_project(project_dir, name=project_name, profiles=profiles, targets=services)
    engine = Engine.connect()
    options = UpOptions(
        plan=Options(build=build, pull=pull, force_recreate=force_recreate, remove_orphans=remove_orphans),
        wait=wait,
        timeout=timeout or None,
        dry_run=dry_run,
    )
    if dry_run:
        result = converge(project, engine, options, Progress())
        if as_json:
            terminal.json(result.as_dict())
        else:
            terminal.data(result.plan.render())
        return 0
    with make_progress(terminal, project.active) as progress:
        result = converge(project, engine, options, progress)
    if as_json:
        terminal.json(result.as_dict())
    if not result.plan.changes and not wait:
        terminal.success(f"project {project.name} is up to date ({len(project.active)} services)")
    else:
        states = ", ".join(f"{name} {r.state}" for name, r in result.services.items())
        terminal.success(f"project {project.name} is up in {result.elapsed:.1f}s: {states}")
    return 0
