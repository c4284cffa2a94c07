"""Shared fixtures: the entities under test."""

import os

import pytest

from app.blueprint import ENTITIES

# A gRPC server started by the app (when it has one) takes a free port in tests.
os.environ.setdefault("APP_GRPC_PORT", "0")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Any test taking `entity` runs once per generated resource.
    if "entity" in metafunc.fixturenames:
        metafunc.parametrize("entity", ENTITIES, ids=[entity.name for entity in ENTITIES])
