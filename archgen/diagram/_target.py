"""What `archgen diagram` draws: a spec file, or a rendered project (its spec plus compose.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archgen.diagram._compose import ComposeInfo, load_compose_info
from archgen.errors import ArgumentError
from archgen.model import Architecture, resolve

SPEC_FILE = "archgen.yaml"
COMPOSE_FILE = "compose.yaml"


@dataclass(frozen=True)
class Target:
    """A resolved architecture and, in a rendered project, what its compose file adds."""

    architecture: Architecture
    spec_path: Path
    project_dir: Path | None = None
    compose: ComposeInfo | None = None

    @property
    def project(self) -> str:
        """The Docker project name: compose's `name:` if set, else the spec's name."""
        if self.compose is not None and self.compose.name:
            return self.compose.name
        return self.architecture.name


def load_target(path: Path | None) -> Target:
    """Resolve a CLI target: a spec file, a project directory, or (None) the current directory."""
    from archgen.spec import load_spec

    if path is None:
        path = Path.cwd()
        if not (path / SPEC_FILE).is_file():
            raise ArgumentError(f"no {SPEC_FILE} in {path}",
                                hint="pass a spec file or a rendered project directory")
    if path.is_dir():
        spec_path = path / SPEC_FILE
        if not spec_path.is_file():
            raise ArgumentError(f"{path} has no {SPEC_FILE}, so it is not a rendered project",
                                hint="pass the spec file itself, e.g. archgen diagram shop.yaml")
        project_dir: Path | None = path
    else:
        spec_path = path
        project_dir = path.parent if path.name == SPEC_FILE else None
    architecture = resolve(load_spec(spec_path))
    compose = (load_compose_info(project_dir)
               if project_dir is not None and (project_dir / COMPOSE_FILE).is_file() else None)
    return Target(architecture, spec_path, project_dir if compose else None, compose)
