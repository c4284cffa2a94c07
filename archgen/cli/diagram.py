"""The `diagram` command: draw a spec or a rendered project in Mermaid, D2, DOT, SVG, PNG, JSON or a tree."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from archgen.cli._app import app, terminal


@app.command()
def diagram(
    target: Path | None = typer.Argument(
        None, metavar="SPEC|PROJECT_DIR", show_default=False,
        help="A spec file or a rendered project (default: the current directory).",
    ),
    fmt: str | None = typer.Option(
        None, "--format", "-f", show_default=False,
        help="mermaid, d2, dot, svg, png, json or tree. Default: from the extension of -o or "
        "--check, else mermaid (tree with --live).",
    ),
    level: str = typer.Option("container", "--level", "-l",
                              help="context, container or deployment."),
    group_by: str = typer.Option("tier", "--group-by", help="tier, network or none."),
    output: Path | None = typer.Option(None, "--output", "-o", show_default=False,
                                       help="Write to FILE instead of stdout."),
    check: Path | None = typer.Option(
        None, "--check", show_default=False,
        help="Exit 1 if FILE differs from a fresh drawing (for CI); writes nothing.",
    ),
    live: bool = typer.Option(False, "--live",
                              help="Colour nodes by their containers' state (needs Docker)."),
) -> int:
    """Draw the architecture: nodes by type, edges with protocol and port, grouped by tier.

    Example: archgen diagram shop.yaml -o docs/architecture.svg
    """
    from archgen.diagram import FORMATS, check_output, choose, diagram_for, format_for_path, write
    from archgen.diagram._target import load_target
    from archgen.errors import ArgumentError

    if check is not None and output is not None:
        raise ArgumentError("--check and --output cannot be combined",
                            hint="--check compares FILE with a fresh drawing and writes nothing")
    if check is not None and live:
        raise ArgumentError("--check cannot be combined with --live",
                            hint="a live drawing changes with the stack; check the static one")
    implied = format_for_path(check) if check is not None else (
        format_for_path(output) if output is not None else None)
    if check is not None and fmt is None and implied is None:
        raise ArgumentError(f"cannot tell the format of {check} from its extension",
                            hint="pass --format, or name the file .mmd, .d2, .dot, .svg, .png, "
                            ".json or .txt")
    chosen = choose(fmt or implied or ("tree" if live else "mermaid"), FORMATS, "format")
    source = load_target(target)
    states = None
    if live:
        from archgen.diagram._live import live_states

        states = live_states(source.project)
    drawing = diagram_for(source.architecture, level=level, group_by=group_by,
                          compose=source.compose, states=states)

    if check is not None:
        check_output(check, write(drawing, chosen))
        terminal.success(f"{check}: up to date")
        return 0
    if chosen == "tree" and output is None and sys.stdout.isatty():
        from archgen.diagram._tree import build_tree

        terminal.out.print(build_tree(drawing))
        return 0
    content = write(drawing, chosen)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if output is not None:
        if output.parent != Path():
            output.parent.mkdir(parents=True, exist_ok=True)
        output.write_bytes(data)
        terminal.success(f"wrote {output} ({chosen}, {drawing.level} level)")
        return 0
    if isinstance(content, bytes):
        if sys.stdout.isatty():
            raise ArgumentError(f"{chosen.upper()} is binary and stdout is a terminal",
                                hint="write it to a file with -o FILE, or pipe it")
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.buffer.flush()
        return 0
    terminal.data(content)
    return 0
