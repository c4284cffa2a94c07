"""Engine calls on vanishing things: a missing image, a container already gone, a busy engine."""

from __future__ import annotations

from typing import Any

import pytest
from docker.errors import APIError, NotFound

from archgen.errors import EngineError
from archgen.runtime.engine import Engine


class FlakyImages:
    """Answers inspect_image with the queued outcomes, one per call."""

    api_version = "1.41"

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def inspect_image(self, ref: str) -> dict[str, str]:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return {"Id": outcome}


def test_a_missing_image_is_none() -> None:
    api = FlakyImages(NotFound("no such image"))
    assert Engine(api).image_id("shop-app:latest") is None
    assert api.calls == 1


def test_a_transient_engine_error_is_retried() -> None:
    api = FlakyImages(APIError("500 Server Error: busy"), "sha256:abc")
    assert Engine(api).image_id("shop-app:latest") == "sha256:abc"
    assert api.calls == 2


def test_a_persistent_engine_error_is_raised_not_read_as_missing() -> None:
    api = FlakyImages(*[APIError("500 Server Error: busy")] * 3)
    with pytest.raises(EngineError, match="inspecting image shop-app:latest"):
        Engine(api).image_id("shop-app:latest")
    assert api.calls == 3


class GoneContainers:
    """A container removed behind archgen's back: every call says so."""

    api_version = "1.41"

    def stop(self, container_id: str, timeout: int | None = None) -> None:
        raise NotFound("No such container")

    def remove_container(self, container_id: str, v: bool, force: bool) -> None:
        raise NotFound("No such container")


def test_stopping_or_removing_a_container_already_gone_is_not_an_error() -> None:
    engine = Engine(GoneContainers())
    engine.stop("0123456789ab", 10)
    engine.stop("0123456789ab", None)
    engine.remove("0123456789ab")
