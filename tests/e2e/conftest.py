"""The e2e tier needs a reachable Docker engine and the catalog's images (or their stand-ins)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import unavailable


@pytest.fixture(scope="session")
def docker_client() -> Any:
    import docker

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:  # any failure to reach the engine means "no engine here"
        unavailable(f"no Docker engine reachable ({error}); start dockerd or run scripts/test")
    return client


@pytest.fixture
def stack_dir(tmp_path: Path) -> Iterator[Path]:
    """Where a test renders its project; whatever it brought up is taken down with its volumes."""
    from tests.e2e.test_mvc_stack import archgen  # late: that module imports this one

    project = tmp_path / "project"
    yield project
    if (project / "compose.yaml").is_file():
        archgen("down", "--volumes", cwd=project, check=False)


def require_images(client: Any, images: list[str]) -> None:
    """Fail (CI) or skip (elsewhere) unless every image is present locally."""
    import docker

    missing = []
    for image in images:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            missing.append(image)
    if missing:
        unavailable(
            f"images not present: {', '.join(missing)}; build them with "
            "scripts/standin-images (no registry is reachable here)"
        )


@pytest.fixture(scope="session", autouse=True)
def _remove_images_built_by_e2e_projects() -> Any:
    # Every e2e project has a fresh name, so its `build:` images would pile up run after run.
    yield
    try:
        import docker

        client = docker.from_env(timeout=120)
        for image in client.images.list(filters={"label": "io.archgen.project"}):
            project = (image.labels or {}).get("io.archgen.project", "")
            if project.startswith("e2e-"):
                client.images.remove(image.id, force=True)
    except Exception as error:  # cleanup only: never turn a green run red
        print(f"note: could not remove e2e images: {error}")


_LOG_NOISE = ("/healthz", '"logger": "app.access"', "GET /events/", "GET /sagas/")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """On a failed e2e test, attach the e2e stacks' container states and last log lines."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    try:
        import docker

        client = docker.from_env(timeout=30)
        lines = []
        for container in client.containers.list(all=True, filters={"label": "io.archgen.project"}):
            if not (container.labels or {}).get("io.archgen.project", "").startswith("e2e-"):
                continue
            health = container.attrs["State"].get("Health", {}).get("Status", "-")
            lines.append(f"== {container.name}: {container.status} (health {health})")
            tail = container.logs(tail=500).decode(errors="replace").rstrip().splitlines()
            # Probes and access lines would push out the warnings that explain a failure.
            telling = [line for line in tail if not any(noise in line for noise in _LOG_NOISE)]
            lines.extend(f"   {line}" for line in telling[-20:])
        report.sections.append(("e2e stack state", "\n".join(lines) or "no e2e containers left"))
    except Exception as error:  # diagnostics only: never hide the real failure
        report.sections.append(("e2e stack state", f"could not read the stack's state: {error}"))
