"""Shared fixtures: the entities under test."""

import pytest

from app.blueprint import ENTITIES


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Any test taking `entity` runs once per generated resource.
    if "entity" in metafunc.fixturenames:
        metafunc.parametrize("entity", ENTITIES, ids=[entity.name for entity in ENTITIES])
