"""Where the blueprints and the JSON Schema live, installed or in a checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _shipped(name: str) -> Path:
    # A wheel carries the folders inside the package; a checkout or an editable
    # install keeps them beside it, at the repository's top level.
    inside = _PACKAGE_DIR / name
    return inside if inside.is_dir() else _PACKAGE_DIR.parent / name


@cache
def blueprints_dir() -> Path:
    return _shipped("blueprints")


@cache
def schema_path() -> Path:
    return _shipped("schemas") / "archgen.schema.json"


@cache
def examples_dir() -> Path:
    """The commented starter specs `archgen init` writes."""
    return _shipped("examples")
