"""Graphviz writer: DOT text, and SVG or PNG through the system `dot` when it is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from html import escape

from archgen.diagram._graph import Diagram, DiagramEdge, DiagramNode
from archgen.diagram._style import STATUS_COLOURS, colours
from archgen.errors import GraphvizMissingError, RenderError

FONT = "Helvetica,Arial,sans-serif"
INSTALL_HINT = "install Graphviz: apt-get install graphviz / brew install graphviz"

# Edge labels are real layout nodes (`label`, not `xlabel`), so dot keeps them apart.
_GRAPH = {
    "rankdir": "LR", "newrank": "true", "compound": "true", "splines": "spline",
    "nodesep": "0.25", "ranksep": "0.9", "pad": "0.3", "fontname": FONT, "fontsize": "13",
    "labelloc": "t", "labeljust": "l", "bgcolor": "white", "forcelabels": "true",
}
_NODE = {"fontname": FONT, "fontsize": "11", "style": "filled", "margin": "0.14,0.06",
         "penwidth": "1.2"}
_EDGE = {"fontname": FONT, "fontsize": "9", "color": "#546e7a", "fontcolor": "#263238",
         "arrowsize": "0.7", "penwidth": "1.0"}

_SHAPES = {
    "actor": "ellipse",
    "system": "box3d",
    "proxy": "hexagon",
    "load_balancer": "hexagon",
    "gateway": "hexagon",
    "app": "box",
    "service": "box",
    "database": "cylinder",
    "cache": "cylinder",
    "identity": "parallelogram",
    "metrics": "tab",
    "dashboards": "tab",
    "tracing": "tab",
    "job": "component",
    "sentinel": "octagon",
    "volume": "folder",
    "network": "oval",
    "container": "box",
}
_ROUNDED = ("app", "service", "container")
_OBSERVERS = ("metrics", "dashboards")
JUNCTION_MIN = 3


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(values: dict[str, str], html: frozenset[str] = frozenset()) -> str:
    inner = ", ".join(f"{key}={value if key in html else _quote(value)}"
                      for key, value in values.items())
    return f"[{inner}]"


def _lines(node: DiagramNode) -> str:
    # One table row per line: rows keep descenders and ascenders of the two lines apart,
    # which a plain <BR/> (9.4 pt between baselines) does not.
    rows = f"<TR><TD>{escape(node.label)}</TD></TR>"
    if node.subtitle:
        rows += f'<TR><TD><FONT POINT-SIZE="9">{escape(node.subtitle)}</FONT></TD></TR>'
    return f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{rows}</TABLE>'


def _html_label(node: DiagramNode) -> str:
    return f"<{_lines(node)}>"


def _queue_label(node: DiagramNode, fill: str, stroke: str) -> str:
    # A message bus drawn as a queue: the name, then a row of message slots.
    slots = "".join('<TD WIDTH="8" BORDER="1" BGCOLOR="white"> </TD>' for _ in range(3))
    return (f'<<TABLE BORDER="1" CELLBORDER="0" CELLSPACING="3" CELLPADDING="4" '
            f'COLOR="{stroke}" BGCOLOR="{fill}" STYLE="rounded"><TR><TD>{_lines(node)}</TD>'
            f"{slots}</TR></TABLE>>")


def _node(node: DiagramNode) -> str:
    if node.status is not None:
        fill, stroke, _ = STATUS_COLOURS[node.status]
    else:
        fill, stroke = colours(node.tier, node.type)
    values: dict[str, str] = {"fillcolor": fill, "color": stroke}
    if node.type == "bus":
        values.update(shape="plain", label=_queue_label(node, fill, stroke))
    else:
        values.update(shape=_SHAPES.get(node.type, "box"), label=_html_label(node))
        if node.type in _ROUNDED:
            values["style"] = "filled,rounded"
        if node.type in _ROUNDED and node.replicas > 1:
            values["peripheries"] = "2"
    values["tooltip"] = node.image or node.label
    return f"  {_quote(node.id)} {_attrs(values, frozenset({'label'}))};"


def _edge(tail: str, head: str, values: dict[str, str], *, backward: bool = False) -> str:
    # `backward` edges are laid out head-first (so observers such as Prometheus sit after
    # what they observe) and drawn with the arrow where it belongs.
    values = dict(values)
    if backward:
        tail, head = head, tail
        values["dir"] = "none" if values.get("arrowhead") == "none" else "back"
        values.pop("arrowhead", None)
    attrs = f" {_attrs(values)}" if values else ""
    return f"  {_quote(tail)} -> {_quote(head)}{attrs};"


def _bundles(edges: list[DiagramEdge]) -> list[tuple[str, str, str, list[DiagramEdge]]]:
    """Group same-label fans (one source to many targets, or many to one), largest first."""
    remaining = list(edges)
    bundles: list[tuple[str, str, str, list[DiagramEdge]]] = []
    while True:
        groups: dict[tuple[str, str, str], list[DiagramEdge]] = {}
        for edge in remaining:
            groups.setdefault(("in", edge.target, edge.label), []).append(edge)
            groups.setdefault(("out", edge.source, edge.label), []).append(edge)
        candidates = [(len(members), key) for key, members in groups.items()
                      if len(members) >= JUNCTION_MIN]
        if not candidates:
            return bundles
        _, key = max(candidates)
        members = groups[key]
        bundles.append((*key, members))
        remaining = [e for e in remaining if e not in members]


def _edge_lines(diagram: Diagram) -> list[str]:
    """Edges, with fans of 3+ same-label edges drawn through one junction and one label."""
    types = {n.id: n.type for n in diagram.nodes}

    def observer(node_id: str) -> bool:
        return types.get(node_id) in _OBSERVERS

    flows = [e for e in diagram.edges if e.kind == "flow" and e.label]
    bundles = _bundles(flows)
    bundled = {id(e) for *_, members in bundles for e in members}
    lines = []
    for side, anchor, label, members in bundles:
        junction = f"junction:{side}:{anchor}:{label}"
        lines.append(f"  {_quote(junction)} [shape=point, width=0.06, height=0.06, "
                     f'color="{_EDGE["color"]}", fillcolor="{_EDGE["color"]}", label=""];')
        if side == "out":
            back = observer(anchor)
            lines.append(_edge(anchor, junction, {"label": label, "arrowhead": "none"},
                               backward=back))
            lines += [_edge(junction, e.target, {}, backward=back) for e in members]
        else:
            back = all(observer(e.source) for e in members)
            lines += [_edge(e.source, junction, {"arrowhead": "none"}, backward=back)
                      for e in members]
            lines.append(_edge(junction, anchor, {"label": label}, backward=back))
    for edge in diagram.edges:
        if id(edge) in bundled:
            continue
        values: dict[str, str] = {}
        if edge.label:
            values["label"] = edge.label
        if edge.kind == "network":
            values.update(arrowhead="none", style="dashed", color="#90a4ae")
        elif edge.kind == "mount":
            values.update(style="dashed", color="#90a4ae")
        lines.append(_edge(edge.source, edge.target, values,
                           backward=edge.kind == "flow" and observer(edge.source)))
    return lines


def write_dot(diagram: Diagram) -> str:
    """Return DOT source, ending with a newline."""
    graph = dict(_GRAPH, label=diagram.title)
    lines = [f"digraph {_quote(diagram.name)} {{",
             f"  graph {_attrs(graph)};", f"  node {_attrs(_NODE)};", f"  edge {_attrs(_EDGE)};"]
    for node in diagram.unclustered():
        lines.append(_node(node))
    for cluster in diagram.clusters:
        tier = cluster.id.removeprefix("tier:")
        _, stroke = colours(tier, "volume" if cluster.id in ("volumes", "networks") else "")
        lines.append(f"  subgraph {_quote('cluster_' + cluster.id)} {{")
        style = {"label": cluster.label, "style": "rounded,dashed", "color": stroke,
                 "fontcolor": stroke, "fontsize": "12", "margin": "14"}
        lines.append(f"    graph {_attrs(style)};")
        members = diagram.members(cluster)
        for node in members:
            lines.append("  " + _node(node))
        stores = [n for n in members if n.type != "volume"]
        if cluster.id == "tier:data" and len(stores) > 1:
            # One column for the data tier keeps it beside the services instead of below.
            lines.append(f"    {{rank=same; {'; '.join(_quote(n.id) for n in stores)}}}")
        lines.append("  }")
    lines += _edge_lines(diagram)
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_executable() -> str:
    """Return the path of Graphviz's `dot`, or raise GraphvizMissingError."""
    found = shutil.which("dot")
    if found is None:
        raise GraphvizMissingError("SVG and PNG output need Graphviz's `dot`, which is not on PATH",
                                   hint=INSTALL_HINT)
    return found


# PNGs are drawn at 96 dpi and scaled down to fit 50 × 50 inches (4800 px a side): beyond
# that rasterising dominates the time and the file grows past use; SVG stays full size.
_RASTER = {"png": ("-Gdpi=96", "-Gsize=50,50")}
_VERSION_COMMENT = re.compile(rb"<!-- Generated by graphviz version [^>]*-->\n")


def run_dot(source: str, fmt: str) -> bytes:
    """Lay out `source` with `dot -T<fmt>` (svg or png) and return the output."""
    executable = dot_executable()
    try:
        done = subprocess.run([executable, f"-T{fmt}", *_RASTER.get(fmt, ())],
                              input=source.encode("utf-8"),
                              capture_output=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RenderError(f"Graphviz `dot` failed: {error}") from error
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"Graphviz `dot -T{fmt}` failed (exit {done.returncode})"
                          + (f": {detail[-1]}" if detail else ""))
    if fmt == "svg":
        return _VERSION_COMMENT.sub(b"", done.stdout)
    return done.stdout
