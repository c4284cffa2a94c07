"""The pristine render kept inside a project: the base of `archgen update`'s three-way merge.

One JSON file, `.archgen/pristine.json`, committed with the project (never
git-ignored) so the base survives a clone. One file rather than a folder of
copies: a second `app/` tree would be found by the user's test runner, linters,
dependency scanners and editors' searches. Each file is stored as its list of
lines (split at each newline, lossless), so `git diff` of the record stays
readable; a file that is not UTF-8 is stored as base64. Private files (`.env`,
TLS material) are never in it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from archgen import __version__
from archgen.errors import UpdateError

PRISTINE_FILE = ".archgen/pristine.json"
FORMAT = 1


def snapshot(files: dict[str, bytes]) -> bytes:
    """The record of `files` (relative POSIX path → content), deterministic."""
    entries: dict[str, object] = {}
    for path, content in sorted(files.items()):
        try:
            entries[path] = content.decode("utf-8").split("\n")
        except UnicodeDecodeError:
            entries[path] = {"base64": base64.b64encode(content).decode("ascii")}
    record = {"archgen": __version__, "format": FORMAT, "files": entries}
    return (json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def read_snapshot(project: Path) -> tuple[str, dict[str, bytes]] | None:
    """(archgen version that wrote it, files) from the project's record, or None if absent."""
    path = project / PRISTINE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("format") != FORMAT:
            raise ValueError(f"unknown format {record.get('format')!r}")
        files: dict[str, bytes] = {}
        for name, entry in record["files"].items():
            if isinstance(entry, list):
                files[name] = "\n".join(entry).encode("utf-8")
            else:
                files[name] = base64.b64decode(entry["base64"])
        return str(record.get("archgen", "?")), files
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise UpdateError(
            f"{path} is damaged ({error}); it is the base of the three-way merge",
            hint="restore it from version control (git checkout -- .archgen/pristine.json)",
        ) from error
