"""The e2e tier needs a reachable Docker engine and the catalog's images (or their stand-ins)."""

from __future__ import annotations

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
