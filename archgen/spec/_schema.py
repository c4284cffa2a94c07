"""JSON-Schema validation of a loaded spec, with messages written for people."""

from __future__ import annotations

import difflib
import json
from functools import cache
from typing import TYPE_CHECKING, Any

from archgen.errors import SpecProblem
from archgen.resources import schema_path
from archgen.spec._yaml import Marks, Path, format_path

if TYPE_CHECKING:
    from jsonschema import ValidationError


@cache
def load_schema() -> dict[str, Any]:
    """Return the spec's JSON Schema (draft 2020-12)."""
    with schema_path().open(encoding="utf-8") as handle:
        schema: dict[str, Any] = json.load(handle)
    return schema


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """Return a "did you mean" hint for a close match, if there is one."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


_DNS_HINT = "a DNS label: a lowercase letter, then lowercase letters, digits or '-', at most 63"
_FIELD_TYPE = r"^(str|int|float|bool|datetime|list\[(str|int|float)\])\??$"
_PATTERN_HINTS = {
    "^[a-z][a-z0-9-]{0,62}$": _DNS_HINT,
    "^[a-z][a-z0-9_]{0,62}$": "a lowercase letter, then lowercase letters, digits or '_'",
    "^[1-9][0-9]*(ms|s|m|h)$": "a duration such as 500ms, 60s, 5m or 1h",
    _FIELD_TYPE: "one of str, int, float, bool, datetime, list[str], list[int], list[float]; "
    "add ? for an optional field",
}


def _subschema_properties(error: ValidationError) -> list[str]:
    props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
    return [name for name, sub in props.items() if sub is not False]


def _unused_keys(root: dict[str, Any]) -> list[str]:
    """Top-level keys that the spec's architecture forbids (schema `false` under if/then)."""
    for branch in load_schema().get("allOf", []):
        const = branch["if"]["properties"]["architecture"]["const"]
        if const == root.get("architecture"):
            forbidden = branch["then"].get("properties", {})
            return [key for key, sub in forbidden.items() if sub is False and key in root]
    return []


def _describe(error: ValidationError, root: dict[str, Any], marks: Marks,
              filename: str) -> list[SpecProblem]:
    path: Path = tuple(error.absolute_path)
    validator = error.validator

    def at(p: Path, message: str, hint: str | None = None, *, key: bool = False) -> SpecProblem:
        line, column = marks.find(p, key=key)
        return SpecProblem(filename, line, column, format_path(p), message, hint)

    if validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = _subschema_properties(error)
        extras = [k for k in error.instance if k not in allowed]
        return [
            at(
                (*path, extra),
                f"unknown key {extra!r}",
                did_you_mean(extra, allowed) or f"allowed keys: {', '.join(sorted(allowed))}",
                key=True,
            )
            for extra in extras
        ]
    if validator == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        return [at(path, f"missing required key {missing!r}")]
    if validator == "enum":
        choices = [str(c) for c in error.validator_value]  # type: ignore[union-attr]
        hint = did_you_mean(str(error.instance), choices) if isinstance(error.instance, str) else None
        return [
            at(path, f"{error.instance!r} is not one of: {', '.join(choices)}", hint)
        ]
    if validator is None and error.schema is False:
        # A key the chosen architecture does not use (schema `false` under if/then);
        # jsonschema leaves the instance path empty there, the schema path names the key.
        return [
            at((key,), f"{key!r} is not used by the {root.get('architecture')} architecture",
               "remove it, or choose the architecture that uses it", key=True)
            for key in _unused_keys(root)
            if root.get(key) == error.instance
        ]
    if validator == "pattern":
        hint = _PATTERN_HINTS.get(str(error.validator_value))
        expected = f"expected {error.validator_value}"
        return [at(path, f"{error.instance!r} has the wrong form", hint or expected)]
    if validator == "type":
        return [at(path, f"expected {error.validator_value}, got {type(error.instance).__name__} "
                         f"{error.instance!r}")]
    if validator in {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}:
        return [at(path, f"{error.instance!r} is out of range ({validator} {error.validator_value})")]
    if validator == "oneOf" and error.context:
        # Durations: integer seconds or a string like 60s; report the string form's problem.
        relevant = [e for e in error.context if e.validator != "type"] or list(error.context)
        best = relevant[0]
        hint = _PATTERN_HINTS.get(str(best.validator_value)) if best.validator == "pattern" else None
        return [at(path, f"{error.instance!r} is not valid here", hint or best.message)]
    return [at(path, error.message)]


def validate_against_schema(data: dict[str, Any], marks: Marks, filename: str) -> list[SpecProblem]:
    """Return every schema problem in `data`, located and explained, in document order."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(load_schema())
    problems: list[SpecProblem] = []
    seen: set[tuple[str, str]] = set()
    for error in validator.iter_errors(data):
        for problem in _describe(error, data, marks, filename):
            key = (problem.path, problem.message)
            if key not in seen:
                seen.add(key)
                problems.append(problem)
    problems.sort(key=lambda p: (p.line or 0, p.column or 0, p.path))
    return problems
