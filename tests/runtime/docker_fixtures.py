"""Docker fixtures (a pytest plugin): `docker_engine`, `busybox`, `project`.

Load with `pytest_plugins = ["tests.runtime.docker_fixtures"]` in a test module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from archgen.runtime.engine import Engine
from tests.runtime.dockerkit import ComposeProject, build_busybox_image, engine_or_skip


@pytest.fixture(scope="session")
def docker_engine() -> Engine:
    return engine_or_skip()


@pytest.fixture(scope="session")
def busybox(docker_engine: Engine) -> str:
    return build_busybox_image(docker_engine)


@pytest.fixture
def project(tmp_path: Path, docker_engine: Engine, busybox: str) -> Iterator[ComposeProject]:
    from archgen.cli import main

    proj = ComposeProject(tmp_path / "proj", f"agtest-{uuid.uuid4().hex[:8]}", docker_engine)
    proj.root.mkdir()
    yield proj
    if (proj.root / "compose.yaml").is_file():
        main(
            ["-q", "down", "-C", str(proj.root), "-p", proj.name, "--volumes", "--remove-orphans", "-t", "1"]
        )
    proj.wipe()
