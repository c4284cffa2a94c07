"""Values a chart user may change: one marker, written as its default or as a Helm expression."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Value:
    """A leaf of a manifest read from `values.yaml` at `path` in the chart; `default` elsewhere."""

    path: tuple[str, ...]
    default: Any

    def helm(self) -> str:
        """The Go-template expression Helm evaluates (`index` copes with dashes in names)."""
        if all(_IDENT.match(p) for p in self.path):
            ref = ".Values." + ".".join(self.path)
        else:
            ref = "index .Values " + " ".join(f'"{p}"' for p in self.path)
        if isinstance(self.default, str):
            return "{{ " + ref + " | quote }}"
        return "{{ " + ref + " }}"


@dataclass(frozen=True)
class Raw:
    """A leaf Helm fills from its own objects (`.Release.Namespace`); `default` elsewhere."""

    expr: str
    default: Any

    def helm(self) -> str:
        return "{{ " + self.expr + " }}"


Leaf = Value | Raw


def plain(tree: Any) -> Any:
    """The tree with every marker replaced by its default (plain manifests)."""
    if isinstance(tree, Value | Raw):
        return tree.default
    if isinstance(tree, dict):
        return {k: plain(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [plain(v) for v in tree]
    return tree


def values_of(tree: Any, into: dict[str, Any] | None = None) -> dict[str, Any]:
    """Collect every `Value` of the tree into a nested values.yaml mapping."""
    values: dict[str, Any] = {} if into is None else into
    if isinstance(tree, Value):
        node = values
        for key in tree.path[:-1]:
            node = node.setdefault(key, {})
        node.setdefault(tree.path[-1], tree.default)
    elif isinstance(tree, dict):
        for item in tree.values():
            values_of(item, values)
    elif isinstance(tree, list):
        for item in tree:
            values_of(item, values)
    return values
