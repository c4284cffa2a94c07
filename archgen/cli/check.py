"""The `check` command: the reference-stack run (render, up --wait, smoke checks, down --volumes)."""

from __future__ import annotations

from pathlib import Path

import typer

from archgen.cli._app import PROJECT_NAME_OPTION, app, terminal

_MARKS = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}


@app.command()
def check(
    source: Path = typer.Argument(
        Path("."), help="A spec file (rendered into a temporary folder) or a project directory.",
        show_default=False,
    ),
    keep: bool = typer.Option(False, "--keep", help="Leave the stack (and a rendered spec) in place."),
    junit: Path | None = typer.Option(None, "--junit", metavar="FILE",
                                      help="Write a JUnit XML report (one test case per check)."),
    report: Path | None = typer.Option(None, "--report", metavar="FILE", help="Write the JSON report."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report on stdout."),
    project_name: str | None = PROJECT_NAME_OPTION,
    timeout: float = typer.Option(
        600.0, "--timeout", metavar="S", help="Seconds to wait for the stack to be healthy (0: no limit)."
    ),
) -> int:
    """Bring a reference stack up, smoke-test it through its edge, and tear it down.

    The checks come from the model: TLS on the edge with the project's own
    certificate, HTTP redirecting to HTTPS, /readyz, a CRUD round trip per
    entity, the cache (X-Cache: MISS then HIT), the rate limit (429 with
    Retry-After). The stack runs as project `<name>-check` and is removed with
    its volumes afterwards, whatever happened (unless --keep). Exit 0 only when
    every check passed.

    Example: archgen check examples/mvc.yaml --junit reports/check.xml
    """
    from archgen.check import CheckOptions, CheckResult, check_reference_stack, write_json, write_junit
    from archgen.errors import CheckFailedError

    def show(result: CheckResult) -> None:
        line = f"{_MARKS.get(result.status, result.status)} {result.name} [{result.service}]"
        if result.message and result.status != "passed":
            line += f": {result.message}"
        if result.status == "failed":
            terminal.err.print(line, style="red", markup=False)
        else:
            terminal.info(line)

    options = CheckOptions(keep=keep, project_name=project_name, timeout=timeout or None)
    result = check_reference_stack(source, terminal, options, on_result=show)
    if junit is not None:
        write_junit(result, junit)
    if report is not None:
        write_json(result, report)
    if as_json:
        terminal.json(result.as_dict())
    counts = result.counts()
    summary = f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
    if not result.passed:
        failed = [c for c in result.cases if c.status == "failed"]
        raise CheckFailedError(
            f"archgen check {result.project}: {summary}\n"
            + "\n".join(f"  {c.service}: {c.name}: {c.message.splitlines()[0] if c.message else ''}"
                        for c in failed)
        )
    terminal.success(f"archgen check {result.project}: {summary}")
    return 0
