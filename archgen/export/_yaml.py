"""YAML for manifests and chart templates: block strings for files, markers as defaults or Helm."""

from __future__ import annotations

from typing import Any

import yaml

from archgen.export._edge import NAMESPACE
from archgen.export._values import Raw, Value, plain


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (configuration files, scripts) as literal blocks."""


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if "\n" in data and not any(line != line.rstrip() for line in data.splitlines()):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", data)


_Dumper.add_representer(str, _str)


def dump(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     width=100, allow_unicode=True)


def manifest(objects: list[dict[str, Any]], header: str, namespace: str) -> str:
    """Plain manifests: every marker written as its default."""
    text = "".join(f"---\n{dump(plain(o))}" for o in objects)
    return header + text.replace(NAMESPACE, namespace)


def template(objects: list[dict[str, Any]], header: str) -> str:
    """Chart templates: every marker written as the Helm expression that reads values.yaml."""
    expressions: dict[str, str] = {}

    def mark(tree: Any) -> Any:
        if isinstance(tree, Value | Raw):
            key = f"ARCHGENHELM{len(expressions):04d}X"
            expressions[key] = tree.helm()
            return key
        if isinstance(tree, dict):
            return {k: mark(v) for k, v in tree.items()}
        if isinstance(tree, list):
            return [mark(v) for v in tree]
        return tree

    text = "".join(f"---\n{dump(mark(o))}" for o in objects)
    text = text.replace("{{", '{{ "{{" }}')  # literal braces in files stay literal for Helm
    for key, expression in expressions.items():
        text = text.replace(key, expression)
    text = text.replace(NAMESPACE, "{{ .Release.Namespace }}")
    return header + text
