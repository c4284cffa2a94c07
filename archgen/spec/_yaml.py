"""Safe YAML loading that keeps line/column marks and refuses YAML's hazards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from archgen.errors import SpecError, SpecProblem

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 50
# A billion-laughs document expands a few aliases into millions of nodes.
MAX_NODES = 100_000

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:timestamp",
}

Path = tuple[str | int, ...]


@dataclass
class Marks:
    """Where each value (and each mapping key) of a document starts: 1-based line and column."""

    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def find(self, path: Path, *, key: bool = False) -> tuple[int | None, int | None]:
        """Return the mark of `path`, else of its closest ancestor that has one."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if key and probe in self.values:
                return self.values[probe]
            if not probe:
                return (None, None)
            probe = probe[:-1]


def format_path(path: Path) -> str:
    """Render a document path the way users write it: `services[1].database`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


class _Converter:
    def __init__(self, filename: str, loader: yaml.SafeLoader) -> None:
        self.filename = filename
        self.loader = loader
        self.marks = Marks()
        self.nodes = 0

    def fail(self, node: yaml.Node, path: Path, message: str, hint: str | None = None) -> SpecError:
        mark = node.start_mark
        problem = SpecProblem(
            self.filename, mark.line + 1, mark.column + 1, format_path(path), message, hint
        )
        return SpecError([problem])

    def convert(self, node: yaml.Node, path: Path, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(
                node,
                path,
                f"the document expands to more than {MAX_NODES} values",
                "aliases (*name) that repeat large blocks are refused; write the values out",
            )
        if depth > MAX_DEPTH:
            raise self.fail(node, path, f"nesting deeper than {MAX_DEPTH} levels is refused")
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(
                node,
                path,
                f"the YAML tag {node.tag!r} is not allowed",
                "archgen loads specs safely: only plain strings, numbers, booleans, "
                "lists and mappings",
            )
        self.marks.values[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if node.tag == "tag:yaml.org,2002:timestamp":
            return str(node.value)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        self.loader.flatten_mapping(node)  # resolves `<<` merge keys
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                raise self.fail(key_node, path, "mapping keys must be plain strings")
            key = str(self.loader.construct_object(key_node))
            if key in result:
                first = self.marks.keys.get((*path, key))
                where = f" (first at line {first[0]})" if first else ""
                raise self.fail(key_node, (*path, key), f"duplicate key {key!r}{where}")
            self.marks.keys[(*path, key)] = (
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
            )
            result[key] = self.convert(value_node, (*path, key), depth + 1)
        return result


def _problem(filename: str, message: str, hint: str | None = None, line: int | None = None,
             column: int | None = None) -> SpecError:
    return SpecError([SpecProblem(filename, line, column, "", message, hint)])


def load_yaml(raw: bytes, filename: str) -> tuple[dict[str, Any], Marks]:
    """Parse a spec document into plain data plus the marks of every value."""
    if len(raw) > MAX_BYTES:
        raise _problem(filename, f"the file is {len(raw)} bytes; specs are limited to 1 MiB")
    if b"\x00" in raw:
        raise _problem(filename, "the file is binary, not YAML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _problem(
            filename,
            f"the file is not valid UTF-8 (byte {error.start})",
            "save the spec as UTF-8 text",
        ) from None
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            line = mark.line + 1 if mark else None
            column = mark.column + 1 if mark else None
            message = f"YAML syntax error: {error.problem or error}"
            if error.context:
                message += f" ({error.context})"
            raise _problem(filename, message, None, line, column) from None
        except yaml.YAMLError as error:
            raise _problem(filename, f"YAML error: {error}") from None
        except RecursionError:
            raise _problem(filename, f"nesting deeper than {MAX_DEPTH} levels is refused") from None
        if root is None:
            raise _problem(filename, "the spec is empty", "start from `archgen init`")
        converter = _Converter(filename, loader)
        if not isinstance(root, yaml.MappingNode):
            raise converter.fail(
                root, (), "the spec must be a mapping (key: value lines) at the top level"
            )
        data = converter.convert(root, (), 0)
        if not data:
            raise converter.fail(root, (), "the spec is empty", "start from `archgen init`")
        return data, converter.marks
    finally:
        loader.dispose()
