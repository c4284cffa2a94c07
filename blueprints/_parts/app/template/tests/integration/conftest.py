"""The application against the real database and Redis named by the environment.

`make test` runs these against the compose stack. Without APP_DATABASE_URL and
APP_REDIS_URL they are skipped, with the reason shown in pytest's summary.
"""

import dataclasses
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from app.main import create_app
from app.models import Entity
from app.settings import Settings

REQUIRED = ("APP_DATABASE_URL", "APP_REDIS_URL")
CACHE_TTL = 77
"""A TTL no default uses, so the test can tell its own cache entries apart."""


@pytest.fixture(scope="session")
def settings() -> Settings:
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        pytest.skip(
            f"integration tests need a database and Redis: set {' and '.join(missing)}"
            " (make test runs them against the compose stack)"
        )
    # A limit high enough that only the rate-limit tests (with their own app) meet it, and
    # a Redis budget that a busy test machine cannot exceed (one slow answer would open the
    # breaker and turn cache hits into misses for a few seconds).
    return dataclasses.replace(
        Settings.from_env(), rate_limit_requests=1_000_000, cache_ttl_seconds=CACHE_TTL,
        redis_budget_ms=2000,
    )


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def redis_client(settings: Settings) -> Iterator[Redis]:
    assert settings.redis_url is not None, "the integration tests use APP_REDIS_URL"
    client = Redis.from_url(settings.redis_url)
    yield client
    client.close()


class Items:
    """Creates items through the API and deletes whatever is left at the end."""

    def __init__(self, client: TestClient, entity: Entity):
        self.client = client
        self.url = f"/api/{entity.plural}"
        self.created: list[str] = []

    def create(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(self.url, json=payload)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        self.created.append(body["id"])
        return body

    def cleanup(self) -> None:
        for item_id in self.created:
            self.client.delete(f"{self.url}/{item_id}")


@pytest.fixture
def items(client: TestClient, entity: Entity) -> Iterator[Items]:
    tracker = Items(client, entity)
    yield tracker
    tracker.cleanup()
