"""One graph of the architecture drawn by several writers: Mermaid, D2, DOT, SVG, PNG, JSON, tree.

The JSON writer's shape (`"schema": "archgen.diagram/1"`)::

    {"schema": "archgen.diagram/1", "name": "shop", "architecture": "mvc",
     "level": "container", "group_by": "tier",
     "nodes":  [{"id", "label", "subtitle", "type", "tier", "kind", "image", "replicas",
                 "group", "ports": [{"name", "container", "published", "bind"}],
                 "networks", "volume", "cluster", "status"?}],
     "edges":  [{"source", "target", "label", "protocol", "port", "kind"}],
     "groups": [{"id", "label", "members"}]}

`kind` of an edge is `flow` (a protocol), `mount` (a volume) or `network`;
`status` appears only in live diagrams (up, starting, down, absent).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archgen.diagram._compose import ComposeInfo, parse_compose
from archgen.diagram._graph import (
    GROUPINGS,
    LEVELS,
    Diagram,
    ServiceState,
    build_diagram,
    status_of,
)
from archgen.errors import ArgumentError, DriftError

if TYPE_CHECKING:
    from archgen.model import Architecture

__all__ = [
    "EXTENSIONS",
    "FORMATS",
    "GROUPINGS",
    "LEVELS",
    "ComposeInfo",
    "Diagram",
    "ServiceState",
    "build_diagram",
    "check_output",
    "format_for_path",
    "parse_compose",
    "project_files",
    "render_diagram",
    "status_of",
]

FORMATS = ("mermaid", "d2", "dot", "svg", "png", "json", "tree")
BINARY_FORMATS = ("png",)
EXTENSIONS = {
    ".mmd": "mermaid", ".mermaid": "mermaid", ".d2": "d2", ".dot": "dot", ".gv": "dot",
    ".svg": "svg", ".png": "png", ".json": "json", ".txt": "tree", ".tree": "tree",
}
JSON_SCHEMA = "archgen.diagram/1"


def choose(value: str, allowed: tuple[str, ...], what: str) -> str:
    """Return `value` if allowed, else raise ArgumentError (exit 2) naming the choices."""
    if value in allowed:
        return value
    close = [a for a in allowed if value and a.startswith(value.lower())]
    close = close or difflib.get_close_matches(value, allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise ArgumentError(f"unknown {what} {value!r}", hint=f"{hint}choose one of: {', '.join(allowed)}")


def format_for_path(path: Path | str) -> str | None:
    """The format a file name implies by its extension (`.mmd` → mermaid), or None."""
    return EXTENSIONS.get(Path(path).suffix.lower())


def _as_json(diagram: Diagram) -> str:
    payload: dict[str, Any] = {
        "schema": JSON_SCHEMA,
        "name": diagram.name,
        "architecture": diagram.architecture,
        "level": diagram.level,
        "group_by": diagram.group_by,
        "nodes": [n.as_dict() for n in diagram.nodes],
        "edges": [e.as_dict() for e in diagram.edges],
        "groups": [{"id": c.id, "label": c.label, "members": list(c.members)}
                   for c in diagram.clusters],
    }
    return json.dumps(payload, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def diagram_for(architecture: Architecture, *, level: str = "container", group_by: str = "tier",
                compose: ComposeInfo | Mapping[str, Any] | None = None,
                states: Mapping[str, object] | None = None) -> Diagram:
    """Validate the options and build the Diagram every writer formats."""
    choose(level, LEVELS, "level")
    choose(group_by, GROUPINGS, "grouping")
    info = compose if isinstance(compose, ComposeInfo) or compose is None else parse_compose(compose)
    return build_diagram(architecture, level=level, group_by=group_by, compose=info, states=states)


def write(diagram: Diagram, fmt: str) -> str | bytes:
    """Format a built Diagram; `png` is bytes, every other format text."""
    choose(fmt, FORMATS, "format")
    if fmt == "json":
        return _as_json(diagram)
    if fmt == "mermaid":
        from archgen.diagram._mermaid import write_mermaid

        return write_mermaid(diagram)
    if fmt == "d2":
        from archgen.diagram._d2 import write_d2

        return write_d2(diagram)
    if fmt == "tree":
        from archgen.diagram._tree import write_tree

        return write_tree(diagram)
    from archgen.diagram._dot import run_dot, write_dot

    source = write_dot(diagram)
    if fmt == "dot":
        return source
    output = run_dot(source, fmt)
    return output.decode("utf-8") if fmt == "svg" else output


def render_diagram(architecture: Architecture, fmt: str = "mermaid", *, level: str = "container",
                   group_by: str = "tier", compose: ComposeInfo | Mapping[str, Any] | None = None,
                   states: Mapping[str, object] | None = None) -> str | bytes:
    """Draw `architecture` in `fmt` (see FORMATS); `png` is bytes, the rest text.

    `compose` is a loaded compose document (or a ComposeInfo) that adds published
    ports, networks and volumes; `states` maps compose services to ServiceState-like
    values (a ServiceState, a `{"state": …, "health": …}` dict, or a list per replica)
    and colours each node by its containers' health.
    """
    choose(fmt, FORMATS, "format")
    diagram = diagram_for(architecture, level=level, group_by=group_by, compose=compose,
                          states=states)
    return write(diagram, fmt)


def project_files(architecture: Architecture) -> dict[str, bytes]:
    """The diagram files a rendered project carries: Mermaid always, SVG when `dot` is installed."""
    import shutil

    diagram = diagram_for(architecture)
    files = {"docs/architecture.mmd": str(write(diagram, "mermaid")).encode("utf-8")}
    if shutil.which("dot"):
        from archgen.diagram._dot import run_dot, write_dot

        files["docs/architecture.svg"] = run_dot(write_dot(diagram), "svg")
    return files


def _summary(path: Path, current: bytes, expected: bytes) -> str:
    try:
        old = current.decode("utf-8").splitlines()
        new = expected.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        return f"{path} is stale: {len(current)} bytes on disk, {len(expected)} expected"
    changed = [line for line in difflib.unified_diff(old, new, lineterm="", n=0)
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    added = sum(1 for line in changed if line.startswith("+"))
    removed = len(changed) - added
    first = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b),
                 min(len(old), len(new)))
    return (f"{path} is stale: +{added} -{removed} lines, first difference at line {first + 1}")


def check_output(path: Path, expected: str | bytes) -> None:
    """Raise DriftError (exit 1) with a one-line summary when `path` differs from `expected`."""
    data = expected.encode("utf-8") if isinstance(expected, str) else expected
    if not path.is_file():
        raise DriftError(f"{path} does not exist", hint=f"write it with -o {path}")
    current = path.read_bytes()
    if current != data:
        raise DriftError(_summary(path, current, data), hint=f"regenerate it with -o {path}")
