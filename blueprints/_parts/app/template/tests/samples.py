"""Example payloads for any entity, derived from its field definitions."""

import uuid
from datetime import datetime
from typing import Any

from app.models import Entity, Field

_DATETIMES = ("2024-01-02T03:04:05+00:00", "2025-06-07T08:09:10.500000+00:00")


def sample_value(field: Field, variant: int = 0) -> Any:
    kind = field.type
    if kind == "str":
        return f"{field.name}-{variant}-{uuid.uuid4().hex[:8]}"
    if kind == "int":
        return 10 + variant
    if kind == "float":
        return 1.5 + variant
    if kind == "bool":
        return variant % 2 == 0
    if kind == "datetime":
        return _DATETIMES[variant % 2]
    if kind == "list[str]":
        return [f"a{variant}", "b"]
    if kind == "list[int]":
        return [variant, 2, 3]
    if kind == "list[float]":
        return [0.5 + variant, 2.25]
    raise AssertionError(f"no sample for type {kind!r}")


INVALID = {"not": "valid"}
"""A value of the wrong type for every field type (and for every list item)."""


def sample_payload(entity: Entity, variant: int = 0, optional: bool = True) -> dict[str, Any]:
    """Every required field, and the optional ones too unless `optional` is false."""
    return {
        field.name: sample_value(field, variant)
        for field in entity.fields
        if field.required or optional
    }


def normalise(field: Field, value: Any) -> Any:
    """Make equal values compare equal: datetimes as instants, floats as floats."""
    if value is None:
        return None
    if field.type == "datetime":
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if field.type == "float":
        return float(value)
    if field.type == "list[float]":
        return [float(item) for item in value]
    return value


def assert_matches(entity: Entity, payload: dict[str, Any], body: dict[str, Any]) -> None:
    for field in entity.fields:
        expected = normalise(field, payload.get(field.name))
        assert normalise(field, body.get(field.name)) == expected, field.name
