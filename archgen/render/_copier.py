"""Copier, driven for speed: compiled templates cached on disk, plain paths not compiled, no git calls.

A render drives Copier once per blueprint and shared part. Left alone, Copier compiles
every template and every path name again on each run, and calls `git` once per file to
keep a destination repository's index in sync. archgen renders into a fresh staging
folder that is never a git work tree, so that sync has nothing to do.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

_PLAIN_MARKERS = ("{{", "{%", "{#")


class _Plain:
    """A path part or string without Jinja syntax: it renders to itself."""

    def __init__(self, source: str) -> None:
        self.source = source

    def render(self, *args: Any, **kwargs: Any) -> str:
        return self.source


def cache_folder() -> Path | None:
    """Where compiled templates are kept between runs (None when it cannot be written)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(base) / "archgen" / "jinja"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def _speed_up(env: Any) -> Any:
    from jinja2 import FileSystemBytecodeCache

    folder = cache_folder()
    if folder is not None:
        # Keyed by template name and a checksum of its source: a changed template recompiles.
        env.bytecode_cache = FileSystemBytecodeCache(str(folder))
    compiled: dict[str, Any] = {}
    from_string = env.from_string

    def fast_from_string(source: Any, *args: Any, **kwargs: Any) -> Any:
        text = str(source)
        if not any(marker in text for marker in _PLAIN_MARKERS):
            return _Plain(text)
        if args or kwargs:
            return from_string(source, *args, **kwargs)
        if text not in compiled:
            compiled[text] = from_string(text)
        return compiled[text]

    env.from_string = fast_from_string
    return env


def run_copy(template: Path, destination: Path, data: dict[str, Any]) -> None:
    """Render one Copier template into `destination` with `data`, asking nothing."""
    # Copier's Worker is what its run_copy() drives; subclassed here for the two hooks above.
    from copier._main import Worker

    class FastWorker(Worker):
        @cached_property
        def jinja_env(self) -> Any:
            return _speed_up(super().jinja_env)

        def _sync_git_index_executable_bit(self, dst_relpath: Path, src_mode: int) -> None:
            return  # the staging folder is never a git work tree

    with FastWorker(src_path=str(template), dst_path=destination, data=data, defaults=True,
                    overwrite=True, quiet=True, unsafe=False, skip_tasks=True) as worker:
        worker.run_copy()
