"""Render a project from a blueprint through Copier: deterministic, atomic, drift-checkable."""

from __future__ import annotations

import filecmp
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archgen.errors import BlueprintUnavailableError, DriftError, RenderError, TargetExistsError
from archgen.model import Architecture, resolve
from archgen.model.registry import REGISTRY
from archgen.render.compose import project_secrets
from archgen.resources import blueprints_dir
from archgen.spec import Spec, spec_from_data
from archgen.variables import SECRETS_DIR

__all__ = [
    "FileChange",
    "RenderResult",
    "Renderer",
    "UpdateResult",
    "available_blueprints",
    "render_project",
    "update_project",
]

SPEC_FILE = "archgen.yaml"
# Written once and kept across re-renders; never compared by --check.
_PRIVATE = (".env",)
_PRIVATE_DIR = "tls"


def available_blueprints() -> dict[str, Path]:
    """Map each architecture whose blueprint renders to the blueprint's folder."""
    root = blueprints_dir()
    return {name: root / name for name, entry in sorted(REGISTRY.items())
            if entry.renders and (root / name / "copier.yml").is_file()}


def _is_private(relative: Path) -> bool:
    return (relative.name in _PRIVATE or _PRIVATE_DIR in relative.parts[:-1]
            or relative.parts[:1] == (SECRETS_DIR,))


def _files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        if path.is_file() or path.is_symlink():
            yield path.relative_to(root)


@dataclass(frozen=True)
class FileChange:
    """One file of a render and what writing it would do to the target."""

    path: str
    action: str  # create | overwrite | unchanged | keep (private files already there)


@dataclass
class RenderResult:
    """What a render did (or would do, for --dry-run / --check)."""

    target: Path
    architecture: str
    files: list[FileChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": str(self.target),
            "architecture": self.architecture,
            "files": [{"path": f.path, "action": f.action} for f in self.files],
        }


class Renderer:
    """Render one spec into one target directory (like Copier's Worker, for archgen)."""

    def __init__(self, spec: Spec, target: Path, *, force: bool = False) -> None:
        self.spec = spec
        self.target = target.resolve()
        self.force = force
        self.architecture: Architecture = resolve(spec)
        blueprints = available_blueprints()
        if spec.architecture not in blueprints:
            ready = ", ".join(sorted(blueprints)) or "none"
            raise BlueprintUnavailableError(
                f"the {spec.architecture} blueprint is not available yet in this version of archgen",
                hint=f"blueprints that render today: {ready}; "
                f"`archgen diagram` and `archgen validate` already work for {spec.architecture}",
            )
        self.blueprint = blueprints[spec.architecture]

    # -- public operations ---------------------------------------------------------

    def write(self) -> RenderResult:
        """Render into the target: atomically for a new target, file by file with --force."""
        self._refuse_non_empty_target()
        with self._staging() as staged:
            result = self._compare(staged, include_private=True)
            self._add_private_material(staged)
            self._move_into_place(staged)
        return result

    def dry_run(self) -> RenderResult:
        """Report what `write` would do, writing nothing."""
        self._refuse_non_empty_target()
        with self._staging() as staged:
            return self._compare(staged, include_private=True)

    def check(self) -> RenderResult:
        """Raise DriftError listing every generated file that differs from a fresh render."""
        if not self.target.is_dir():
            raise DriftError(f"{self.target} does not exist; nothing to check",
                             hint="render it first with `archgen new`")
        with self._staging() as staged:
            result = self._compare(staged, include_private=False)
        drifted = [f for f in result.files if f.action != "unchanged"]
        if drifted:
            listing = "\n".join(f"  {f.action:9} {f.path}" for f in drifted)
            raise DriftError(
                f"{len(drifted)} file(s) in {self.target} differ from a fresh render:\n{listing}",
                hint="re-render with `archgen new --force`, or edit archgen.yaml to match",
                details=result.as_dict(),
            )
        return result

    # -- steps ---------------------------------------------------------------------

    def _refuse_non_empty_target(self) -> None:
        if self.target.exists() and not self.target.is_dir():
            raise TargetExistsError(f"{self.target} exists and is not a directory")
        if self.target.is_dir() and any(self.target.iterdir()) and not self.force:
            raise TargetExistsError(
                f"{self.target} is not empty",
                hint="choose another directory, or pass --force to re-render into it "
                "(.env and TLS files are kept)",
            )

    def staging(self) -> _Staging:
        """A context manager: the fresh render in a temporary folder beside the target."""
        return self._staging()

    def _staging(self) -> _Staging:
        parent = self.target.parent
        if not parent.is_dir():
            raise TargetExistsError(f"the parent folder {parent} does not exist")
        return _Staging(self, parent)

    def _render_into(self, destination: Path) -> None:
        from archgen.render._copier import run_copy
        from archgen.render.compose import compose_data

        context = dict(self.architecture.context)
        context["diagram_mermaid"] = _mermaid(self.architecture)
        context["compose"] = compose_data(self.architecture)
        runs = [(template, folder, context) for template, folder in
                [(self.blueprint, "."), *self._parts()]]
        runs += [(template, folder, {**context, **overrides})
                 for template, folder, overrides in self._instances()]
        for template, folder, data in runs:
            try:
                run_copy(template, destination / folder, {"arch": data})
            except Exception as error:  # Copier raises many kinds; none may escape half-done
                raise RenderError(f"rendering the blueprint {template.name} failed: "
                                  f"{type(error).__name__}: {error}") from error
        (destination / SPEC_FILE).write_text(self.spec.text, encoding="utf-8")
        for relative, content in _diagram_files(self.architecture).items():
            path = destination / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        _write_pristine(destination)

    def _parts(self) -> list[tuple[Path, str]]:
        """The shared parts (blueprints/_parts/<name>) the model asks for, with their folders."""
        root = self.blueprint.parent / "_parts"
        return [(root / name, folder) for name, folder in self.architecture.parts]

    def _instances(self) -> list[tuple[Path, str, dict[str, Any]]]:
        """The parts rendered once per instance (each microservice), with what each replaces."""
        root = self.blueprint.parent / "_parts"
        return [(root / name, folder, overrides)
                for name, folder, overrides in self.architecture.instances]

    def _compare(self, staged: Path, *, include_private: bool) -> RenderResult:
        result = RenderResult(self.target, self.spec.architecture)
        for relative in _files(staged):
            if _is_private(relative):
                continue
            existing = self.target / relative
            if not existing.exists():
                action = "create"
            elif filecmp.cmp(staged / relative, existing, shallow=False):
                action = "unchanged"
            else:
                action = "overwrite"
            result.files.append(FileChange(relative.as_posix(), action))
        if include_private:
            for private in self._private_paths():
                action = "keep" if (self.target / private).exists() else "create"
                result.files.append(FileChange(private, action))
        result.files.sort(key=lambda f: f.path)
        return result

    def _edge_service(self) -> str:
        edge = self.architecture.context.get("edge")
        if not isinstance(edge, dict):
            raise RenderError("the model has no edge component")  # every blueprint has one
        return str(edge["dir"])

    def _private_paths(self) -> list[str]:
        tls = f"{self._edge_service()}/{_PRIVATE_DIR}"
        secret_files = [f"{SECRETS_DIR}/{s.name}" for s in project_secrets(self.architecture)]
        return [".env", *secret_files, f"{tls}/cert.pem", f"{tls}/combined.pem", f"{tls}/key.pem"]

    def _add_private_material(self, staged: Path) -> None:
        from archgen.render._secrets import (
            env_from_example,
            secret_values,
            write_secret_files,
            write_tls_pair,
        )

        example = staged / ".env.example"
        existing_env = self.target / ".env"
        previous = existing_env.read_text(encoding="utf-8") if existing_env.is_file() else None
        if example.is_file():
            env_text = env_from_example(example.read_text(encoding="utf-8"), previous)
            fd = os.open(staged / ".env", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(env_text)
        # Only the missing ones: an existing file keeps its value (a database was initialised
        # with it), as `.env` and the TLS pair do.
        values = secret_values(project_secrets(self.architecture), self.target / SECRETS_DIR,
                               previous)
        if values:
            write_secret_files(staged, values)
        tls = Path(self._edge_service()) / _PRIVATE_DIR
        if not (self.target / tls / "key.pem").is_file():
            write_tls_pair(staged / tls, ["localhost", self.spec.name])

    def _move_into_place(self, staged: Path) -> None:
        if not self.target.exists() or not any(self.target.iterdir()):
            if self.target.exists():
                self.target.rmdir()
            os.replace(staged, self.target)
            return
        # --force into an existing project: each file is replaced atomically; the
        # user's own files, .env and the TLS pair stay.
        for relative in _files(staged):
            destination = self.target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged / relative, destination)
        if (self.target / SECRETS_DIR).is_dir():  # mkdir above made it with the umask's mode
            (self.target / SECRETS_DIR).chmod(0o700)


class _Staging:
    """A temporary folder beside the target (same filesystem, so moves are renames)."""

    def __init__(self, renderer: Renderer, parent: Path) -> None:
        self.renderer = renderer
        self.parent = parent
        self.root: Path | None = None

    def __enter__(self) -> Path:
        self.root = Path(tempfile.mkdtemp(prefix=".archgen-render-", dir=self.parent))
        staged = self.root / "project"
        self.renderer._render_into(staged)
        return staged

    def __exit__(self, *exc: object) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)


def _write_pristine(destination: Path) -> None:
    """Record the render itself (private files excluded) as the base of `archgen update`."""
    from archgen.render._pristine import PRISTINE_FILE, snapshot

    files = {relative.as_posix(): (destination / relative).read_bytes()
             for relative in _files(destination) if not _is_private(relative)}
    path = destination / PRISTINE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(snapshot(files))


def _mermaid(architecture: Architecture) -> str:
    from archgen.diagram import render_diagram

    return str(render_diagram(architecture, "mermaid"))


def _diagram_files(architecture: Architecture) -> dict[str, bytes]:
    from archgen.diagram import project_files

    return dict(project_files(architecture))


def render_project(spec: dict[str, Any] | Spec, target: Path, *, force: bool = False) -> RenderResult:
    """Validate `spec` (a dict or a loaded Spec) and render it into `target`."""
    loaded = spec if isinstance(spec, Spec) else spec_from_data(spec)
    return Renderer(loaded, Path(target), force=force).write()



# At the end: the update machinery builds on the Renderer above.
from archgen.render._update import UpdateResult, update_project  # noqa: E402
