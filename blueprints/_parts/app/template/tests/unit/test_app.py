"""The assembled application, exercised without any database or Redis.

Services point at a closed port: nothing here may need them. Validation runs
before any data access, and the limiter lets requests through when Redis fails.
"""

import dataclasses
import json

import pytest
from fastapi.testclient import TestClient

from app import blueprint
from app.main import create_app
from app.models import Entity
from app.settings import Settings

UNREACHABLE = {
    "postgres": "postgresql://app:x@127.0.0.1:1/app",
    "mysql": "mysql://app:x@127.0.0.1:1/app",
    "mongodb": "mongodb://127.0.0.1:1/app",
}


def offline_settings() -> Settings:
    return Settings(
        name=blueprint.NAME,
        db_engine=blueprint.DB_ENGINE,
        database_url=UNREACHABLE[blueprint.DB_ENGINE],
        redis_url="redis://127.0.0.1:1/0",
        rate_limit_requests=100,
        rate_limit_window_seconds=60,
        cache_ttl_seconds=60,
        log_level="warning",
        instance_id="unit-1",
    )


@pytest.fixture(scope="module")
def client() -> TestClient:
    # No `with`: the lifespan (which would reach for the database) does not run.
    return TestClient(create_app(offline_settings()), raise_server_exceptions=False)


def test_healthz_needs_no_dependency(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["X-Served-By"] == "unit-1"
    assert response.headers["X-Request-ID"] == "abc-123"


def test_a_request_id_is_generated_when_absent_or_malformed(client: TestClient) -> None:
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/healthz", headers={"X-Request-ID": "a b"}).headers["X-Request-ID"] != "a b"


def test_every_resource_has_its_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for entity in blueprint.ENTITIES:
        assert set(paths[f"/api/{entity.plural}"]) == {"get", "post"}
        assert set(paths[f"/api/{entity.plural}/{{item_id}}"]) == {"get", "put", "patch", "delete"}


def test_validation_errors_are_422_with_field_paths(client: TestClient, entity: Entity) -> None:
    response = client.post(f"/api/{entity.plural}", json={"no_such_field": 1})
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "no_such_field"] in locs
    for field in entity.fields:
        if field.required:
            assert ["body", field.name] in locs
    response = client.get(f"/api/{entity.plural}", params={"limit": 101, "offset": -1})
    assert response.status_code == 422
    locs = [error["loc"] for error in response.json()["detail"]]
    assert ["query", "limit"] in locs and ["query", "offset"] in locs


def test_database_down_is_503_not_500(client: TestClient, entity: Entity) -> None:
    response = client.get(f"/api/{entity.plural}/0123456789abcdef01234567")
    assert response.status_code == 503
    assert response.json() == {"detail": "database unavailable"}
    assert response.headers["X-Served-By"] == "unit-1"


def test_unexpected_errors_are_500_json_and_logged(capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(dataclasses.replace(offline_settings(), log_level="info"))

    def broken() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/broken", broken)
    response = TestClient(app, raise_server_exceptions=False).get(
        "/broken", headers={"X-Request-ID": "req-500"}
    )
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert response.headers["X-Request-ID"] == "req-500"
    assert response.headers["X-Served-By"] == "unit-1"
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    error = next(e for e in entries if e["message"] == "unhandled error")
    assert error["request_id"] == "req-500" and "RuntimeError: boom" in error["exception"]
    access = next(e for e in entries if e["logger"] == "app.access")
    assert (access["path"], access["status"], access["request_id"]) == ("/broken", 500, "req-500")
