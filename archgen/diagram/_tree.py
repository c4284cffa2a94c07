"""Terminal writer: a Rich tree of groups, nodes and their outgoing edges."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from archgen.diagram._graph import Diagram, DiagramEdge, DiagramNode
from archgen.diagram._style import STATUS_COLOURS, STATUS_WORDS, TIER_COLOURS

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

TREE_WIDTH = 100


def _node_text(node: DiagramNode) -> Text:
    from rich.text import Text

    text = Text()
    if node.status is not None:
        style = STATUS_COLOURS[node.status][2]
        text.append("● ", style=style)
        text.append(node.id.split(":", 1)[-1], style=f"bold {style}")
        text.append(f" [{STATUS_WORDS[node.status]}]", style=style)
    else:
        text.append(node.id.split(":", 1)[-1], style="bold")
    if node.label != node.id.split(":", 1)[-1]:
        text.append(f"  {node.label}")
    if node.subtitle:
        text.append(f" · {node.subtitle}", style="dim")
    if node.image:
        text.append(f"  {node.image}", style="dim")
    return text


def _edge_text(edge: DiagramEdge, names: dict[str, str]) -> Text:
    from rich.text import Text

    target = names[edge.target]
    if edge.kind == "network":
        return Text(f"on network {target}", style="dim")
    if edge.kind == "mount":
        return Text(f"mounts volume {target}", style="dim")
    text = Text(f"→ {target}")
    if edge.label:
        text.append(f"  {edge.label}", style="cyan")
    return text


def build_tree(diagram: Diagram) -> Tree:
    """Return the Rich renderable: groups, then nodes, each with its outgoing edges."""
    from rich.text import Text
    from rich.tree import Tree

    tree = Tree(Text(diagram.title, style="bold"), guide_style="dim")
    names = {n.id: n.id.split(":", 1)[-1] for n in diagram.nodes}
    outgoing: dict[str, list[DiagramEdge]] = {}
    for edge in diagram.edges:
        outgoing.setdefault(edge.source, []).append(edge)

    def add(parent: Tree, node: DiagramNode) -> None:
        branch = parent.add(_node_text(node))
        for edge in outgoing.get(node.id, []):
            branch.add(_edge_text(edge, names))

    for node in diagram.unclustered():
        add(tree, node)
    for cluster in diagram.clusters:
        tier = cluster.id.removeprefix("tier:")
        colour = TIER_COLOURS[tier][1] if tier in TIER_COLOURS else "bright_black"
        group = tree.add(Text(cluster.label, style=f"bold {colour}"))
        for node in diagram.members(cluster):
            add(group, node)
    return tree


def write_tree(diagram: Diagram, *, width: int = TREE_WIDTH) -> str:
    """Render the tree as plain text (no colour) at a fixed width, for files and pipes."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False,
                      no_color=True, highlight=False, emoji=False, markup=False,
                      legacy_windows=False, soft_wrap=False)
    console.print(build_tree(diagram))
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(lines) + "\n"
