"""The one error tree: every failure archgen reports, with its exit code and user message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes, documented in README.md."""

    OK = 0
    FAILURE = 1  # something went wrong while running (engine, build, health, drift)
    BAD_INPUT = 2  # the spec, the arguments or the target were refused
    CONFLICT = 3  # `archgen update` left merge conflicts to resolve
    INTERRUPTED = 130  # Ctrl-C


class ArchgenError(Exception):
    """Base of every error archgen reports to the user without a traceback."""

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """Return the full text shown to the user."""
        text = self.message
        if self.hint:
            text += f"\nhint: {self.hint}"
        return text


class UserError(ArchgenError):
    """Bad input: a spec, an argument or a target that archgen refuses."""

    exit_code = ExitCode.BAD_INPUT


@dataclass(frozen=True)
class SpecProblem:
    """One located problem in a spec file."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str
    hint: str | None = None

    def location(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def render(self) -> str:
        path = f" at {self.path}" if self.path else ""
        text = f"{self.location()}{path}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


class SpecError(UserError):
    """A spec that cannot be loaded or that breaks a rule; carries every problem found."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        self.problems = problems
        count = len(problems)
        head = "invalid spec" if count == 1 else f"invalid spec ({count} problems)"
        super().__init__(head + ":\n" + "\n".join("  " + p.render() for p in problems))


class BlueprintUnavailableError(UserError):
    """The spec's architecture has no blueprint that renders yet."""


class TargetExistsError(UserError):
    """The output directory is not empty and --force was not given."""


class ArgumentError(UserError):
    """A command-line argument that does not make sense."""


class RenderError(ArchgenError):
    """Rendering a blueprint failed; nothing was written."""


class DriftError(ArchgenError):
    """`new --check`, `diagram --check` or `export --check` found files that differ from a fresh render."""

    def __init__(self, message: str, *, hint: str | None = None,
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.details = details or {}  # machine-readable form, for --json


class ExportUnavailableError(UserError):
    """The architecture cannot be exported: its blueprint does not render workloads yet."""


class ExportError(UserError):
    """An export that cannot be written: a mounted file is missing, an unknown target."""


class ComposeError(UserError):
    """A compose file archgen cannot run: unsupported key, bad interpolation, cycle."""


class DockerUnavailableError(ArchgenError):
    """The Docker engine cannot be reached."""


class EngineError(ArchgenError):
    """The Docker engine refused or failed an operation (build, create, start, health)."""


class GraphvizMissingError(ArchgenError):
    """SVG or PNG output was asked for but Graphviz's `dot` is not installed."""


class UpdateError(UserError):
    """`archgen update` cannot start: not a project, or no usable pristine render."""


class ConflictError(ArchgenError):
    """`archgen update` wrote conflict markers into files the user must resolve."""

    exit_code = ExitCode.CONFLICT

    def __init__(self, message: str, *, hint: str | None = None,
                 details: dict[str, object] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.details = details or {}  # machine-readable form, for --json


class CheckFailedError(ArchgenError):
    """`archgen check`: at least one smoke check (or a step around them) failed."""


class Interrupted(ArchgenError):
    """The user pressed Ctrl-C."""

    exit_code = ExitCode.INTERRUPTED
