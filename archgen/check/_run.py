"""The reference-stack run: render (or take a project), `up --wait`, smoke checks, `down --volumes`.

The stack runs under its own Docker project name (`<name>-check` unless given),
so checking a project never touches the containers or volumes of the same
project started with `archgen up`; it does need the same host ports free.
Teardown happens whatever went before (a failed `up`, a failed check, Ctrl-C),
unless `keep` is set.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from archgen.check._checks import FAILED, PASSED, SKIPPED, CheckResult, derive_checks, run_check
from archgen.check._http import Client, UrllibClient
from archgen.check._report import CheckReport
from archgen.errors import ArchgenError, UserError

if TYPE_CHECKING:
    from archgen.runtime.engine import Engine
    from archgen.terminal import Terminal

LOG_LINES = 20
LABEL_PROJECT = "io.archgen.project"


@dataclass(frozen=True)
class CheckOptions:
    """What `archgen check` was asked for."""

    keep: bool = False
    project_name: str | None = None
    timeout: float | None = 300.0


def check_reference_stack(
    source: Path,
    terminal: Terminal,
    options: CheckOptions | None = None,
    *,
    client: Client | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> CheckReport:
    """Run the reference-stack check on a spec file or a project directory."""
    from archgen.model import resolve
    from archgen.render import SPEC_FILE, Renderer
    from archgen.spec import load_spec

    options = options or CheckOptions()
    report_step = on_result or (lambda result: None)
    scratch: Path | None = None
    if source.is_dir():
        if not (source / SPEC_FILE).is_file():
            raise UserError(f"{source} is not an archgen project (no {SPEC_FILE})",
                            hint="pass a spec file or a project rendered by `archgen new`")
        spec = load_spec(source / SPEC_FILE)
        root = source.resolve()
    else:
        spec = load_spec(source)
        scratch = Path(tempfile.mkdtemp(prefix="archgen-check-"))
        root = scratch / spec.name
    name = options.project_name or f"{spec.name}-check"
    report = CheckReport(name, spec.architecture, str(source))
    try:
        if scratch is not None:
            started = time.monotonic()
            Renderer(spec, root).write()
            step = CheckResult("render", "archgen", PASSED, f"rendered into {root}",
                               time.monotonic() - started, kind="step")
            report.cases.append(step)
            report_step(step)
        context = resolve(spec).context
        _run_stack(root, name, context, report, options, client, report_step, terminal)
    finally:
        if scratch is not None:
            if options.keep:
                terminal.info(f"the rendered project stays in {root} (--keep)")
            else:
                shutil.rmtree(scratch, ignore_errors=True)
    return report


def _run_stack(
    root: Path,
    name: str,
    context: dict[str, object],
    report: CheckReport,
    options: CheckOptions,
    client: Client | None,
    report_step: Callable[[CheckResult], None],
    terminal: Terminal,
) -> None:
    from archgen.runtime.compose import load_project
    from archgen.runtime.converge import UpOptions, up
    from archgen.runtime.engine import Engine
    from archgen.runtime.plan import Options
    from archgen.runtime.progress import Progress, make_progress
    from archgen.runtime.teardown import down

    project = load_project(root, name=name)
    engine: Engine | None = None
    checks = derive_checks(dict(context), root)
    started = time.monotonic()
    try:
        try:
            engine = Engine.connect()
            with make_progress(terminal, project.active) as progress:
                result = up(project, engine, UpOptions(plan=Options(build=True, remove_orphans=True),
                                                       wait=True, timeout=options.timeout), progress)
            step = CheckResult("up --wait", "engine", PASSED,
                               f"healthy in {result.elapsed:.1f}s", time.monotonic() - started, kind="step")
        except ArchgenError as error:
            step = CheckResult("up --wait", "engine", FAILED, error.render(), time.monotonic() - started,
                               kind="step")
        report.cases.append(step)
        report_step(step)
        if step.status == FAILED:
            for check in checks:
                skipped = CheckResult(check.name, check.service, SKIPPED, "the stack did not come up")
                report.cases.append(skipped)
                report_step(skipped)
            return
        assert engine is not None
        windows = [int(limit["window_seconds"]) for limit in [_rate_limit(context)] if limit]
        http = client or UrllibClient(patience=min(300.0, 2 * max(windows, default=0) + 10.0))
        for check in checks:
            outcome = run_check(check, http)
            if outcome.status == FAILED:
                outcome.logs = _last_lines(engine, name, check.logs_from or (check.service,))
            report.cases.append(outcome)
            report_step(outcome)
    finally:
        if not options.keep and engine is not None:
            started = time.monotonic()
            try:
                removed = down(project, engine, Progress(), volumes=True, remove_orphans=True)
                images = _remove_images(engine, name)
                step = CheckResult("down --volumes", "engine", PASSED,
                                   f"removed {len(removed.containers)} containers, "
                                   f"{len(removed.networks)} networks, {len(removed.volumes)} volumes, "
                                   f"{len(images)} images built for the check",
                                   time.monotonic() - started, kind="step")
            except ArchgenError as error:
                step = CheckResult("down --volumes", "engine", FAILED, error.render(),
                                   time.monotonic() - started, kind="step")
            report.cases.append(step)
            report_step(step)
        elif options.keep:
            terminal.info(f"the stack stays up as project {name} (--keep): "
                          f"`archgen down -C {root} -p {name} --volumes` removes it")


def _rate_limit(context: dict[str, object]) -> dict[str, int] | None:
    cache = context.get("cache")
    limit = cache.get("rate_limit") if isinstance(cache, dict) else None
    return limit if isinstance(limit, dict) else None


def _remove_images(engine: Engine, project: str) -> list[str]:
    """Remove the images the run built (labelled with its project name).

    The runtime has no call for this yet, so the engine's API client is used
    directly; a failure here only costs disk space.
    """
    try:
        images = engine.api.images(filters={"label": f"{LABEL_PROJECT}={project}"})
        for image in images:
            engine.api.remove_image(image["Id"], force=True)
        return [str(tag) for image in images for tag in image.get("RepoTags") or [image["Id"]]]
    except Exception:
        return []


def _last_lines(engine: Engine, project: str, services: tuple[str, ...]) -> list[str]:
    """The services' last log lines (each line prefixed with its container)."""
    try:
        containers = [c for c in engine.containers(project) if c.service in services and not c.oneoff]
    except ArchgenError:
        return []
    lines: list[str] = []
    for container in containers:
        lines.extend(f"{container.name} | {line}" for line in engine.log_tail(container.id, LOG_LINES))
    return lines
