"""The spec: YAML loaded safely with marks, validated by the JSON Schema and by semantic rules."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archgen.errors import SpecError, SpecProblem
from archgen.spec._yaml import Marks, format_path

__all__ = ["Spec", "format_path", "load_spec", "load_spec_bytes", "spec_from_data"]


@dataclass(frozen=True)
class Spec:
    """A validated spec: its data, where it came from, and the marks of every value."""

    data: dict[str, Any]
    source: str
    text: str
    marks: Marks

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def architecture(self) -> str:
        return str(self.data["architecture"])


def load_spec_bytes(raw: bytes, source: str) -> Spec:
    """Parse and validate spec bytes; raise SpecError listing every problem found."""
    from archgen.spec._rules import check_rules
    from archgen.spec._schema import validate_against_schema
    from archgen.spec._yaml import load_yaml

    data, marks = load_yaml(raw, source)
    problems = validate_against_schema(data, marks, source)
    if not problems:
        problems = check_rules(data, marks, source)
    if problems:
        raise SpecError(problems)
    return Spec(data=data, source=source, text=raw.decode("utf-8-sig"), marks=marks)


def load_spec(path: Path) -> Spec:
    """Read, parse and validate the spec at `path`."""
    try:
        if path.is_dir():
            raise SpecError([SpecProblem(str(path), None, None, "", "is a directory, not a spec file",
                                         "pass the YAML file, e.g. archgen.yaml")])
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError(
            [SpecProblem(str(path), None, None, "", "no such file", "create one with `archgen init`")]
        ) from None
    except PermissionError:
        raise SpecError([SpecProblem(str(path), None, None, "", "permission denied")]) from None
    return load_spec_bytes(raw, str(path))


def spec_from_data(data: dict[str, Any], source: str = "<spec>") -> Spec:
    """Validate an in-memory spec (tests, examples) through the same path as files."""
    import yaml

    text = yaml.safe_dump(data, sort_keys=False)
    return load_spec_bytes(text.encode("utf-8"), source)
