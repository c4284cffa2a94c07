"""The assembled application, exercised without any database or Redis.

Services point at a closed port: nothing here may need them. Validation runs
before any data access, and the limiter lets requests through when Redis fails.
"""

import dataclasses
import ipaddress
import json
from collections.abc import Iterator

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
    "redis": "redis://127.0.0.1:1/0",
    "neo4j": "bolt://neo4j:x@127.0.0.1:1",
    "elasticsearch": "http://127.0.0.1:1",
    "solr": "http://127.0.0.1:1/solr/app",
    "none": "",
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


@pytest.mark.skipif(blueprint.DB_ENGINE == "none", reason="in memory: there is no database to lose")
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
    assert response.json() == {"detail": "internal server error"}, "no trace, no message"
    assert response.headers["X-Request-ID"] == "req-500"
    assert response.headers["X-Served-By"] == "unit-1"
    entries = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    error = next(e for e in entries if e["message"] == "unhandled error")
    assert error["request_id"] == "req-500" and "RuntimeError: boom" in error["exception"]
    access = next(e for e in entries if e["logger"] == "app.access")
    assert (access["path"], access["status"], access["request_id"]) == ("/broken", 500, "req-500")


def access_entries(out: str) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [entry for entry in entries if entry["logger"] == "app.access"]


def test_forged_forwarded_headers_are_ignored_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    app = create_app(dataclasses.replace(offline_settings(), log_level="info"))
    client = TestClient(app, client=("198.51.100.77", 40000), raise_server_exceptions=False)
    for n in range(3):
        client.get("/whoami", headers={"X-Forwarded-For": f"203.0.113.{n}"})
    clients = {entry["client"] for entry in access_entries(capsys.readouterr().out)}
    assert clients == {"198.51.100.77"}


def test_a_trusted_proxy_names_the_client_for_the_log_and_the_limiter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = dataclasses.replace(
        offline_settings(), log_level="info", trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),)
    )
    client = TestClient(create_app(settings), client=("10.0.0.2", 40000), raise_server_exceptions=False)
    client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.1, 198.51.100.1"})
    (entry,) = access_entries(capsys.readouterr().out)
    assert entry["client"] == "198.51.100.1"


def test_a_proxy_named_by_host_is_trusted_once_resolved(capsys: pytest.CaptureFixture[str]) -> None:
    settings = dataclasses.replace(offline_settings(), log_level="info", trusted_proxy_hosts=("localhost",))
    app = create_app(settings)
    client = TestClient(app, client=("127.0.0.1", 40000), raise_server_exceptions=False)
    forged = {"X-Forwarded-For": "203.0.113.1, 198.51.100.1"}
    app.state.trusted_proxies.refresh()  # what start-up starts in the background
    client.get("/whoami", headers=forged)
    (entry,) = access_entries(capsys.readouterr().out)
    assert entry["client"] == "198.51.100.1"


@pytest.fixture(scope="module")
def small_bodies() -> TestClient:
    app = create_app(dataclasses.replace(offline_settings(), body_limit_bytes=1000))
    return TestClient(app, raise_server_exceptions=False)


def test_a_declared_body_over_the_limit_is_413(small_bodies: TestClient, entity: Entity) -> None:
    response = small_bodies.post(
        f"/api/{entity.plural}", content=b"x" * 1001, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "request body too large: the limit is 1000 bytes"}
    assert response.headers["X-Request-ID"]


def test_a_streamed_body_over_the_limit_is_413(small_bodies: TestClient, entity: Entity) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"padding": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = small_bodies.post(
        f"/api/{entity.plural}", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json() == {"detail": "request body too large: the limit is 1000 bytes"}


def test_a_body_within_the_limit_is_read(small_bodies: TestClient, entity: Entity) -> None:
    response = small_bodies.post(f"/api/{entity.plural}", json={"no_such_field": "x" * 500})
    assert response.status_code == 422


def test_malformed_json_is_422_without_internals(client: TestClient, entity: Entity) -> None:
    response = client.post(
        f"/api/{entity.plural}", content=b'{"broken": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "Traceback" not in response.text and 'File "' not in response.text
