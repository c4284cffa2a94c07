"""Builders for runtime unit tests: compose projects in tmp dirs, fake engine state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from archgen.runtime.compose import load_project
from archgen.runtime.model import Project


def write_project(root: Path, compose: dict[str, Any], *, env: str | None = None, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "compose.yaml").write_text(yaml.safe_dump(compose, sort_keys=False))
    if env is not None:
        (root / ".env").write_text(env)
    for name, text in files.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def load(
    root: Path, compose: dict[str, Any], *, environ: dict[str, str] | None = None, **kwargs: Any
) -> Project:
    env = kwargs.pop("env", None)
    profiles = kwargs.pop("profiles", ())
    name = kwargs.pop("name", None)
    write_project(root, compose, env=env, **kwargs)
    return load_project(root, name=name, profiles=profiles, environ=environ or {})


def services(**bodies: dict[str, Any]) -> dict[str, Any]:
    return {"name": "demo", "services": bodies}
