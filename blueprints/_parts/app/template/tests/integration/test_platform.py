"""Readiness, rate limiting and instance identity against the real services."""

import dataclasses
import ipaddress
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient

from app import blueprint
from app.main import create_app
from app.settings import Settings

pytestmark = pytest.mark.integration


def closed_port(url: str) -> str:
    """The same URL with its port replaced by one nothing listens on."""
    parts = urlsplit(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return urlunsplit(parts._replace(netloc=f"{userinfo}{at}{host}:1"))


def random_client() -> str:
    """A client address no earlier run has used (rate-limit windows outlive a run)."""
    return f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"


EDGE = "10.0.0.2"
"""The peer the limited app sees: a proxy it trusts (APP_TRUSTED_PROXIES)."""


@pytest.fixture
def limited(settings: Settings) -> Iterator[TestClient]:
    app = create_app(
        dataclasses.replace(
            settings,
            rate_limit_requests=3,
            rate_limit_window_seconds=30,
            trusted_proxies=(ipaddress.ip_network("10.0.0.0/8"),),
        )
    )
    with TestClient(app, client=(EDGE, 40000)) as client:
        yield client


def test_readyz_reports_both_dependencies(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "redis": "ok"},
        "failed": [],
    }


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(
            "database",
            marks=pytest.mark.skipif(blueprint.DB_ENGINE == "none", reason="in memory: nothing to break"),
        ),
        "redis",
    ],
)
def test_readyz_is_503_naming_what_failed(settings: Settings, broken: str) -> None:
    if broken == "database":
        bad = dataclasses.replace(settings, database_url=closed_port(settings.database_url))
    else:
        assert settings.redis_url is not None
        bad = dataclasses.replace(settings, redis_url=closed_port(settings.redis_url))
    with TestClient(create_app(bad)) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200, "liveness never depends on services"
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == [broken]
    assert body["checks"][broken] == "unavailable"


def test_rate_limit_per_client_with_headers(limited: TestClient) -> None:
    # The address the trusted proxy appended is the client, whatever it forged to the left.
    client = random_client()
    headers = [
        {"X-Forwarded-For": f"{random_client()}, {client}"},
        {"X-Forwarded-For": f"203.0.113.9, {client}, 10.0.0.3"},
    ]
    remaining = []
    for i in range(3):
        response = limited.get("/whoami", headers=headers[i % 2])
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert "Retry-After" not in response.headers
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]

    refused = limited.get("/api/nothing-here", headers=headers[1])
    assert refused.status_code == 429
    assert refused.headers["X-RateLimit-Limit"] == "3"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 30
    assert "rate limit" in refused.json()["detail"]
    assert refused.headers["X-Served-By"]

    for probe in ("/healthz", "/readyz"):
        exempt = limited.get(probe, headers=headers[0])
        assert exempt.status_code == 200, probe
        assert "X-RateLimit-Limit" not in exempt.headers
    other = limited.get("/whoami", headers={"X-Forwarded-For": random_client()})
    assert other.status_code == 200, "each client has its own budget"


def test_limited_responses_carry_headers_on_errors_too(limited: TestClient) -> None:
    response = limited.get("/api/nothing-here", headers={"X-Forwarded-For": random_client()})
    assert response.status_code == 404
    assert response.headers["X-RateLimit-Remaining"] == "2"


def test_whoami_and_served_by(client: TestClient, settings: Settings) -> None:
    response = client.get("/whoami", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 200
    assert response.json() == {"instance": settings.instance_id}
    assert response.headers["X-Served-By"] == settings.instance_id
    assert response.headers["X-Request-ID"] == "trace-42"
