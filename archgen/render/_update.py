"""`archgen update`: re-render a project and three-way merge it with the user's files.

The base is the pristine render recorded in the project (`.archgen/pristine.json`),
"yours" is what is on disk, "new" is a fresh render of the (possibly changed) spec
with this version of archgen. Per generated file:

| base | yours | new | result |
|---|---|---|---|
| any | = new | any | unchanged |
| = yours | present | present | archgen's new version (`update`) |
| present | edited | = base | your edits stay (`kept`) |
| present | edited | changed | merged; overlapping edits are conflicts written with markers |
| present | missing | present | stays deleted (`deleted`) |
| = yours | present | gone | removed (`remove`) |
| ≠ yours | present | gone | kept, archgen no longer renders it (`orphaned`) |
| none | missing | present | written (`create`) |
| none | differs | present | a conflict over the differing lines (you made a file archgen now renders) |

`.env` keeps every line and only gains the variables `.env.example` added;
`secrets/` only gains the files of new secrets (an older project's values are taken
over from its `.env`); the TLS pair is kept (moved along when the edge's folder changes, e.g. mvc's `proxy/`
to scaled's `lb/`). The files are written one by one, each atomically, and the
record last: an interrupted update is finished by running it again.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from archgen.errors import UpdateError
from archgen.render import SPEC_FILE, Renderer, _files, _is_private
from archgen.render._merge import merge_text
from archgen.render._pristine import PRISTINE_FILE, read_snapshot
from archgen.spec import Spec, load_spec

_TLS_FILES = ("cert.pem", "combined.pem", "key.pem")


@dataclass(frozen=True)
class FileUpdate:
    """What the update does to one file."""

    path: str
    action: str
    detail: str = ""
    conflicts: int = 0


@dataclass
class UpdateResult:
    """What `archgen update` did (or, with --dry-run, would do)."""

    project: Path
    dry_run: bool
    old_architecture: str
    new_architecture: str
    rendered_by: str
    files: list[FileUpdate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def conflicts(self) -> list[FileUpdate]:
        return [f for f in self.files if f.action == "conflict"]

    @property
    def changed(self) -> list[FileUpdate]:
        return [f for f in self.files if f.action not in ("unchanged", "kept", "deleted", "keep")]

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": str(self.project),
            "dry_run": self.dry_run,
            "architecture": {"old": self.old_architecture, "new": self.new_architecture},
            "rendered_by": self.rendered_by,
            "conflicts": [f.path for f in self.conflicts],
            "files": [
                {"path": f.path, "action": f.action, "detail": f.detail, "conflicts": f.conflicts}
                for f in self.files
            ],
            "notes": self.notes,
        }


@dataclass
class _Write:
    path: str
    content: bytes | None  # None: delete
    mode: int | None = None  # None: keep the existing file's mode (or 0o644)
    dir_mode: int | None = None  # the folder's mode (secrets/: 0o700); None: leave it


def update_project(project: Path, *, spec_file: Path | None = None, dry_run: bool = False) -> UpdateResult:
    """Re-render `project` from its archgen.yaml (or `spec_file`) and merge; see the module docstring.

    Raises:
        UpdateError: not a project, or no usable pristine render in it.
        SpecError: the spec is invalid (nothing is written).
    """
    root = project.resolve()
    if not (root / SPEC_FILE).is_file():
        raise UpdateError(f"{root} is not an archgen project (no {SPEC_FILE})",
                          hint="pass the project directory, or create one with `archgen new`")
    recorded = read_snapshot(root)
    if recorded is None:
        raise UpdateError(
            f"{root} has no pristine render ({PRISTINE_FILE}), the base of the three-way merge; "
            "it was made by an archgen older than `archgen update`",
            hint="commit your work, run `archgen new archgen.yaml -o . --force`, and recover your "
            "edits with `git diff` (the project then carries the record for later updates)",
        )
    rendered_by, base = recorded
    spec = load_spec(spec_file if spec_file is not None else root / SPEC_FILE)
    renderer = Renderer(spec, root, force=True)
    with renderer.staging() as staged:
        new = {r.as_posix(): staged / r for r in _files(staged) if not _is_private(r)}
        result = UpdateResult(root, dry_run, _architecture(base.get(SPEC_FILE)), spec.architecture,
                              rendered_by)
        writes = _merge_files(root, base, new, spec, result)
        writes.extend(_private_material(root, staged, renderer, result))
        result.notes.extend(_data_notes(base.get("compose.yaml"), new.get("compose.yaml"), result))
        old_name = _spec_value(base.get(SPEC_FILE), "name")
        if old_name not in ("?", spec.name):
            result.notes.append(f"the project name changes from {old_name} to {spec.name}: the engine sees "
                                f"a new project; `archgen down -p {old_name}` removes the old one "
                                "(add --volumes to drop its data)")
        if not dry_run:
            for write in writes:
                _apply(root, write)
    result.files.sort(key=lambda f: f.path)
    return result


def _merge_files(
    root: Path, base: dict[str, bytes], new: dict[str, Path], spec: Spec, result: UpdateResult
) -> list[_Write]:
    writes: list[_Write] = []
    record: _Write | None = None
    for path in sorted(set(base) | set(new)):
        target = root / path
        mine = target.read_bytes() if target.is_file() else None
        old = base.get(path)
        if path == PRISTINE_FILE:
            record = _Write(path, new[path].read_bytes(), 0o644)
            continue
        if path not in new:
            if mine is None:
                continue
            if mine == old:
                result.files.append(FileUpdate(path, "remove", "archgen no longer renders it"))
                writes.append(_Write(path, None))
            else:
                result.files.append(FileUpdate(path, "orphaned",
                                               "archgen no longer renders it; kept for your edits"))
            continue
        fresh = new[path].read_bytes()
        mode = new[path].stat().st_mode & 0o777
        if path == SPEC_FILE:
            # The spec is the source of truth: what was loaded (or --spec) is what is written.
            fresh = spec.text.encode("utf-8")
        if mine == fresh:
            result.files.append(FileUpdate(path, "unchanged"))
        elif mine is None:
            if old is None:
                result.files.append(FileUpdate(path, "create"))
                writes.append(_Write(path, fresh, mode))
            else:
                detail = "you deleted it; archgen's version changed" if old != fresh else "you deleted it"
                result.files.append(FileUpdate(path, "deleted", detail + "; it stays deleted"))
        elif mine == old or path == SPEC_FILE:
            result.files.append(FileUpdate(path, "update"))
            writes.append(_Write(path, fresh, mode))
        elif old == fresh:
            result.files.append(FileUpdate(path, "kept", "your edits; archgen's version did not change"))
        else:
            writes.extend(_merge_one(path, old, mine, fresh, result))
    if record is not None:
        writes.append(record)  # last: an interrupted update still has its old base
    return writes


def _merge_one(path: str, old: bytes | None, mine: bytes, fresh: bytes, result: UpdateResult) -> list[_Write]:
    try:
        texts = [(old or b"").decode("utf-8"), mine.decode("utf-8"), fresh.decode("utf-8")]
    except UnicodeDecodeError:
        result.files.append(FileUpdate(path, "conflict",
                                       f"not text: yours kept, archgen's written to {path}.archgen-new", 1))
        return [_Write(f"{path}.archgen-new", fresh)]
    merged = merge_text(*texts)
    if merged.conflicts:
        detail = (f"{merged.conflicts} conflict(s) marked <<<<<<< yours / ======= / >>>>>>> archgen"
                  + ("" if old is not None else "; you created a file archgen now renders"))
        result.files.append(FileUpdate(path, "conflict", detail, merged.conflicts))
    else:
        result.files.append(FileUpdate(path, "merged", "your edits and archgen's changes"))
    return [_Write(path, merged.text.encode("utf-8"))]


def _private_material(root: Path, staged: Path, renderer: Renderer, result: UpdateResult) -> list[_Write]:
    """`.env` gains variables, `secrets/` files; the TLS pair stays (or follows the edge folder)."""
    from archgen.render._secrets import (
        SECRET_FILE_MODE,
        SECRETS_DIR_MODE,
        env_from_example,
        secret_values,
        write_tls_pair,
    )
    from archgen.render.compose import project_secrets
    from archgen.variables import SECRETS_DIR

    writes: list[_Write] = []
    example = staged / ".env.example"
    env = root / ".env"
    previous_env = env.read_text(encoding="utf-8") if env.is_file() else None
    values = secret_values(project_secrets(renderer.architecture), root / SECRETS_DIR, previous_env)
    if values:
        for name, value in values.items():
            writes.append(_Write(f"{SECRETS_DIR}/{name}", value.encode("utf-8"), SECRET_FILE_MODE,
                                 SECRETS_DIR_MODE))
        result.files.append(FileUpdate(SECRETS_DIR, "create", "secret files: " + ", ".join(values)))
    if example.is_file():
        example_text = example.read_text(encoding="utf-8")
        if env.is_file():
            current = env.read_text(encoding="utf-8")
            added, text = _env_additions(current, env_from_example(example_text, current))
            if added:
                result.files.append(FileUpdate(".env", "env", "new variables: " + ", ".join(added)))
                writes.append(_Write(".env", text.encode("utf-8"), 0o600))
            else:
                result.files.append(FileUpdate(".env", "keep", "your values"))
        else:
            result.files.append(FileUpdate(".env", "create", "fresh secrets"))
            writes.append(_Write(".env", env_from_example(example_text).encode("utf-8"), 0o600))
    tls = Path(renderer._edge_service()) / "tls"
    if (root / tls / "key.pem").is_file():
        result.files.append(FileUpdate(tls.as_posix(), "keep", "your TLS pair"))
        return writes
    previous = sorted(p.parent for p in root.glob("*/tls/key.pem"))
    if previous and all((previous[0] / name).is_file() for name in _TLS_FILES):
        source = previous[0]
        for name in _TLS_FILES:
            writes.append(_Write((tls / name).as_posix(), (source / name).read_bytes(),
                                 (source / name).stat().st_mode & 0o777))
        result.files.append(FileUpdate(tls.as_posix(), "create",
                                       f"your TLS pair, copied from {source.relative_to(root)}"))
        return writes
    scratch = Path(tempfile.mkdtemp(prefix=".archgen-tls-", dir=staged.parent))
    write_tls_pair(scratch, ["localhost", renderer.spec.name])
    for name in _TLS_FILES:
        writes.append(_Write((tls / name).as_posix(), (scratch / name).read_bytes(),
                             (scratch / name).stat().st_mode & 0o777))
    result.files.append(FileUpdate(tls.as_posix(), "create", "a new self-signed TLS pair"))
    return writes


def _env_additions(current: str, filled: str) -> tuple[list[str], str]:
    """Variables of `filled` that `current` lacks, and `current` with them appended."""
    present = {line.partition("=")[0].strip() for line in current.splitlines()
               if "=" in line and not line.lstrip().startswith("#")}
    added = [line for line in filled.splitlines()
             if "=" in line and not line.lstrip().startswith("#")
             and line.partition("=")[0].strip() not in present]
    if not added:
        return [], current
    text = current if current.endswith("\n") or not current else current + "\n"
    text += "# added by archgen update\n" + "\n".join(added) + "\n"
    return [line.partition("=")[0].strip() for line in added], text


def _spec_value(spec_text: bytes | None, key: str) -> str:
    try:
        data = yaml.safe_load(spec_text or b"")
    except yaml.YAMLError:
        return "?"
    return str(data.get(key, "?")) if isinstance(data, dict) else "?"


def _architecture(spec_text: bytes | None) -> str:
    return _spec_value(spec_text, "architecture")


def _services(compose: bytes | None) -> dict[str, tuple[str, list[str]]]:
    """Service → (image, named volumes it mounts) from a compose file."""
    try:
        data = yaml.safe_load(compose or b"")
    except yaml.YAMLError:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        return {}
    named = set(data.get("volumes") or {})
    found: dict[str, tuple[str, list[str]]] = {}
    for name, body in data["services"].items():
        body = body if isinstance(body, dict) else {}
        sources = [str(m).split(":")[0] if isinstance(m, str) else str(m.get("source", ""))
                   for m in body.get("volumes") or []]
        found[str(name)] = (str(body.get("image", "")), sorted(s for s in sources if s in named))
    return found


def _data_notes(old_compose: bytes | None, new_compose: Path | None, result: UpdateResult) -> list[str]:
    """What happens to data when services come and go (an architecture switch, an engine change)."""
    before = _services(old_compose)
    after = _services(new_compose.read_bytes() if new_compose else None)
    notes = []
    if result.old_architecture != result.new_architecture:
        notes.append(f"architecture: {result.old_architecture} → {result.new_architecture}; "
                     "data is not migrated between the two stacks")
    gone = sorted(s for s in before if s not in after)
    still_used = {v for _, volumes in after.values() for v in volumes}
    kept_volumes = sorted({v for s in gone for v in before[s][1]} - still_used)
    if gone:
        text = f"services removed: {', '.join(gone)}; `archgen up --remove-orphans` removes their containers"
        if kept_volumes:
            text += (f"; their named volumes ({', '.join(kept_volumes)}) stay on the engine until "
                     "`archgen down --volumes`")
        notes.append(text)
    fresh = sorted(s for s in after if s not in before and after[s][1])
    if fresh:
        notes.append(f"new services with data: {', '.join(fresh)}; they start empty "
                     "(nothing is copied from the services they replace)")
    for service in sorted(set(before) & set(after)):
        (old_image, old_volumes), (new_image, new_volumes) = before[service], after[service]
        reused = sorted(set(old_volumes) & set(new_volumes))
        if reused and old_image.split(":")[0] != new_image.split(":")[0]:
            notes.append(
                f"service {service} changes from {old_image} to {new_image} but keeps its volume "
                f"{', '.join(reused)}, which holds {old_image}'s data: back it up, then "
                "`archgen down --volumes` before `archgen up` so it starts empty"
            )
    return notes


def _apply(root: Path, write: _Write) -> None:
    target = root / write.path
    if write.content is None:
        target.unlink(missing_ok=True)
        parent = target.parent
        while parent != root and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
        return
    mode = write.mode
    if mode is None:
        mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    target.parent.mkdir(parents=True, exist_ok=True)
    if write.dir_mode is not None:
        target.parent.chmod(write.dir_mode)
    fd, temporary = tempfile.mkstemp(prefix=".archgen-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(write.content)
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

