"""The `deploy` command: deploy a rendered project to the swarm the engine belongs to."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from archgen.cli._app import app, terminal

if TYPE_CHECKING:
    from archgen.runtime.swarm import Swarm

if TYPE_CHECKING:
    pass


@app.command()
def deploy(
    target: str = typer.Argument(..., metavar="TARGET", help="swarm (the only deploy target)."),
    project_dir: Path | None = typer.Argument(
        None, metavar="PROJECT_DIR", show_default=False,
        help="A rendered project (default: the current directory)."),
    wait: bool = typer.Option(False, "--wait", help="Wait until every task runs and is healthy."),
    timeout: float = typer.Option(600.0, "--timeout", help="Seconds --wait waits at most."),
    replicas: list[str] = typer.Option([], "--replicas", metavar="SERVICE=N",
                                       help="Run N replicas of SERVICE (repeatable)."),
    image: list[str] = typer.Option([], "--image", metavar="SERVICE=IMAGE",
                                    help="Run IMAGE for SERVICE: a rolling update (repeatable)."),
    rollback: bool = typer.Option(False, "--rollback",
                                  help="Roll the services back to their previous spec."),
    service: list[str] = typer.Option([], "--service", metavar="SERVICE",
                                      help="With --rollback: only these services."),
    remove: bool = typer.Option(False, "--remove",
                                help="Remove the project's services, networks, configs, secrets."),
    volumes: bool = typer.Option(False, "--volumes", help="With --remove: its volumes too."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan; change nothing."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan and tasks as JSON."),
) -> int:
    """Deploy to Docker Swarm: plan, then create or roll services, networks, secrets, configs.

    Example: archgen deploy swarm shop --wait --replicas app=5
    """
    from archgen.errors import ArgumentError
    from archgen.runtime.swarm import Swarm, deploy_plan, load_stack, plan, removal
    from archgen.runtime.swarm import rollback as rollback_plan

    if target != "swarm":
        raise ArgumentError(f"unknown deploy target {target!r}",
                            hint="`archgen deploy swarm`; for Kubernetes use `archgen export "
                            "kubernetes|helm` and kubectl or helm")
    if sum((remove, rollback, bool(replicas or image))) > 1:
        raise ArgumentError("--remove, --rollback and --replicas/--image do not combine")
    root = (project_dir or Path.cwd()).resolve()
    from archgen.export import SPEC_FILE
    from archgen.spec import load_spec

    if not (root / SPEC_FILE).is_file():
        raise ArgumentError(f"{root} has no {SPEC_FILE}, so it is not a rendered project",
                            hint="pass the project directory written by `archgen new`")
    project = str(load_spec(root / SPEC_FILE).name)
    swarm = Swarm.connect(project)
    say = (lambda _: None) if as_json or terminal.quiet else terminal.info
    desired = None
    if remove:
        actions = removal(swarm.observe())
    elif rollback:
        actions = rollback_plan(swarm.observe(), service, project)
    else:
        stack = load_stack(root, swarm)
        missing = swarm.missing_images(stack.images)
        if missing:
            raise ArgumentError(
                f"swarm does not build or find these images on the engine: {', '.join(missing)}",
                hint="build them (`archgen build`) or load them on every node "
                     "(`docker save | docker load`), or push them to a registry the nodes pull from")
        desired = deploy_plan(stack, root, replicas=replicas, images=image)
        actions = plan(desired, swarm.observe())
    if dry_run:
        if as_json:
            terminal.json({"project": project, "actions": [a.__dict__ for a in actions]})
        else:
            terminal.data("\n".join(a.line() for a in actions) or "nothing to do")
        return 0
    swarm.execute(actions, desired, say)
    if remove and volumes:
        swarm.remove_volumes(say)
    if wait and not remove:
        wanted = {s.name: int(s.spec["Mode"]["Replicated"]["Replicas"])
                  for s in (desired.services if desired else [])}
        if not wanted:
            wanted = {name: _replicas(swarm, name) for name in swarm.observe().services}
        swarm.wait(wanted, timeout, say)
    if as_json:
        terminal.json({"project": project, "actions": [a.__dict__ for a in actions],
                       "tasks": [t.as_dict() for t in swarm.tasks()]})
    changed = sum(a.verb != "keep" for a in actions)
    verb = "removed from" if remove else "rolled back on" if rollback else "deployed to"
    terminal.success(f"project {project} {verb} the swarm ({changed} change(s))")
    return 0


def _replicas(swarm: Swarm, name: str) -> int:
    mode = swarm.api.inspect_service(name)["Spec"]["Mode"]
    return int((mode.get("Replicated") or {}).get("Replicas", 1))
