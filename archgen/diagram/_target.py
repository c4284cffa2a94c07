"""What `archgen diagram` draws: a spec file, or a rendered project (its spec plus compose.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archgen.diagram._compose import ComposeInfo, parse_compose
from archgen.errors import ArgumentError, ComposeError
from archgen.model import Architecture, resolve

SPEC_FILE = "archgen.yaml"
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


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


def _compose_file(directory: Path) -> Path | None:
    return next((directory / n for n in COMPOSE_FILES if (directory / n).is_file()), None)


def read_compose(path: Path) -> ComposeInfo:
    """Load a compose file without interpolation (`${…}` stays as written)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ComposeError(f"cannot read {path}: {error}") from None
    except yaml.YAMLError as error:
        raise ComposeError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ComposeError(f"{path} is not a compose file (expected a mapping at the top)")
    return parse_compose(data)


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
    compose_path = _compose_file(project_dir) if project_dir is not None else None
    compose = read_compose(compose_path) if compose_path is not None else None
    return Target(architecture, spec_path, project_dir if compose else None, compose)
