"""Fixtures for the diagram tests: the three `archgen init` examples, resolved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from archgen.model import Architecture, resolve
from archgen.spec import load_spec, spec_from_data
from tests.helpers import EXAMPLES

ARCHITECTURES = ("mvc", "scaled", "microservices")


def example(name: str) -> Architecture:
    return resolve(load_spec(EXAMPLES / f"{name}.yaml"))


def from_data(data: dict[str, Any]) -> Architecture:
    return resolve(spec_from_data(data))


@pytest.fixture(params=ARCHITECTURES)
def architecture(request: pytest.FixtureRequest) -> Architecture:
    return example(str(request.param))


@pytest.fixture
def examples() -> Callable[[str], Architecture]:
    return example
