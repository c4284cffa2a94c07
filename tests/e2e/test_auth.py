"""End to end on a real engine: Keycloak (`auth`) in front of a microservices stack.

One stack: an Envoy gateway, two services (orders on PostgreSQL, payments in memory), a
saga over RabbitMQ, Keycloak with its own PostgreSQL. Tokens come from the real Keycloak
(the stand-in image) through the gateway's `/auth/`; the services check them. A user
holding only `orders:read` is created through Keycloak's admin API (the bootstrap admin's
password from the project's secrets/ folder), so the realm file holds no test-only user.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archgen.catalog import CATALOG
from tests.e2e.conftest import require_images
from tests.e2e.test_mvc_stack import archgen

# The first test also waits for the build and for Keycloak (Java, slow on 2 cores).
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

SAGA = "place-order"
REALM = "market"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spec(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "architecture": "microservices",
        "gateway": {"kind": "envoy", "http_port": _free_port(), "https_port": _free_port()},
        "auth": {"provider": "keycloak", "realm": REALM},
        "bus": {"kind": "rabbitmq"},
        "services": [
            {"name": "orders", "database": "postgres",
             "entities": [{"name": "order", "fields": {"customer": "str", "total": "float"}}]},
            {"name": "payments", "database": "none"},
        ],
        "sagas": [{"name": SAGA, "steps": [
            {"service": "orders", "action": "create", "compensate": "cancel"},
            {"service": "payments", "action": "charge", "compensate": "refund"}]}],
    }


@dataclass
class Stack:
    name: str
    project: Path
    client: httpx.Client
    env: dict[str, str]
    https_port: int

    @property
    def issuer(self) -> str:
        return f"https://127.0.0.1:{self.https_port}/auth/realms/{REALM}"

    def secret(self, name: str) -> str:
        return (self.project / "secrets" / name).read_text().strip()

    def token(self, username: str, password: str, realm: str = REALM,
              client_id: str | None = None) -> str:
        response = self.client.post(
            f"/auth/realms/{realm}/protocol/openid-connect/token",
            data={"grant_type": "password", "client_id": client_id or f"{self.name}-cli",
                  "username": username, "password": password})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def stack(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    kinds = ["envoy", "rabbitmq", "postgres", "python", "keycloak"]
    require_images(docker_client, [CATALOG[k].image for k in kinds])
    name = f"e2e-auth-{secrets.token_hex(3)}"
    root = tmp_path_factory.mktemp(name)
    spec = root / "archgen.yaml"
    data = _spec(name)
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    project = root / name
    archgen("new", spec, "-o", project)
    env = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()
               if "=" in line and not line.startswith("#"))
    https_port = int(data["gateway"]["https_port"])
    client = httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=30)
    try:
        archgen("up", "--wait", "--timeout", "1200", cwd=project, timeout=1500)
        yield Stack(name, project, client, env, https_port)
    finally:
        client.close()
        archgen("down", "--volumes", cwd=project, check=False, timeout=300)


@pytest.fixture(scope="module")
def demo(stack: Stack) -> str:
    return stack.token("demo", stack.env["AUTH_DEMO_PASSWORD"])


@pytest.fixture(scope="module")
def reader(stack: Stack) -> str:
    """A token of a user created through the admin API, holding `orders:read` only."""
    admin = stack.token("admin", stack.secret("keycloak_admin_password"), realm="master",
                        client_id="admin-cli")
    api = f"/auth/admin/realms/{REALM}"
    password = secrets.token_urlsafe(16)
    created = stack.client.post(f"{api}/users", headers=_bearer(admin), json={
        "username": "reader", "enabled": True, "emailVerified": True, "firstName": "Read",
        "lastName": "Only", "email": "reader@example.com",
        "credentials": [{"type": "password", "value": password, "temporary": False}]})
    assert created.status_code == 201, created.text
    user_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    role = stack.client.get(f"{api}/roles/orders:read", headers=_bearer(admin))
    assert role.status_code == 200, role.text
    mapped = stack.client.post(f"{api}/users/{user_id}/role-mappings/realm",
                               headers=_bearer(admin), json=[role.json()])
    assert mapped.status_code == 204, mapped.text
    return stack.token("reader", password)


def test_the_token_endpoint_is_on_the_gateway_and_the_issuer_is_public(
        stack: Stack, demo: str) -> None:
    claims = _claims(demo)
    assert claims["iss"] == stack.issuer
    assert claims["azp"] == f"{stack.name}-cli"
    roles = set(claims["realm_access"]["roles"])
    assert {f"{s}:{a}" for s in ("orders", "payments", "sagas")
            for a in ("read", "write")} <= roles
    discovery = stack.client.get(f"/auth/realms/{REALM}/.well-known/openid-configuration")
    assert discovery.status_code == 200
    assert discovery.json()["issuer"] == stack.issuer


def test_no_token_is_401_and_probes_stay_open(stack: Stack) -> None:
    for path in ("/api/orders/orders", "/api/payments/payments"):
        response = stack.client.get(path)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert stack.client.post(f"/api/sagas/{SAGA}", json={}).status_code == 401
    assert stack.client.get("/api/orders/healthz").status_code == 200
    bad = stack.client.get("/api/orders/orders", headers=_bearer("not.a.token"))
    assert bad.status_code == 401


def test_a_token_without_the_role_is_403_with_it_200(stack: Stack, reader: str) -> None:
    assert stack.client.get("/api/orders/orders", headers=_bearer(reader)).status_code == 200
    written = stack.client.post("/api/orders/orders", headers=_bearer(reader),
                                json={"customer": "ada", "total": 1.5})
    assert written.status_code == 403, written.text
    assert "orders:write" in written.json()["detail"]
    other = stack.client.get("/api/payments/payments", headers=_bearer(reader))
    assert other.status_code == 403, other.text
    saga = stack.client.post(f"/api/sagas/{SAGA}", headers=_bearer(reader), json={})
    assert saga.status_code == 403, saga.text


def test_the_demo_user_writes_and_reads(stack: Stack, demo: str) -> None:
    created = stack.client.post("/api/orders/orders", headers=_bearer(demo),
                                json={"customer": "ada", "total": 12.5})
    assert created.status_code == 201, created.text
    item = created.json()
    read = stack.client.get(f"/api/orders/orders/{item['id']}", headers=_bearer(demo))
    assert read.status_code == 200 and read.json() == item


def test_a_saga_started_with_a_token_completes(stack: Stack, demo: str) -> None:
    started = stack.client.post(f"/api/sagas/{SAGA}", headers=_bearer(demo),
                                json={"input": {"customer": "ada", "total": 3.0}})
    assert started.status_code == 202, started.text
    saga_id = started.json()["id"]
    deadline = time.monotonic() + 120
    state = started.json()
    while time.monotonic() < deadline:
        state = stack.client.get(f"/api/sagas/{SAGA}/{saga_id}", headers=_bearer(demo)).json()
        if state["state"] != "running":
            break
        time.sleep(1)
    assert state["state"] == "completed", state
    assert [s["state"] for s in state["steps"]] == ["done", "done"]


# -- mvc: the app behind nginx, a role per entity ------------------------------------------------

def _mvc_spec(name: str) -> dict[str, Any]:
    return {
        "name": name, "architecture": "mvc",
        "proxy": {"kind": "nginx", "http_port": _free_port(), "https_port": _free_port()},
        "auth": {"provider": "keycloak", "realm": REALM},
        "database": {"engine": "postgres"},
        "app": {"entities": [{"name": "product", "fields": {"title": "str", "price": "float"}},
                             {"name": "review", "fields": {"text": "str"}}]},
    }


@pytest.fixture(scope="module")
def mvc(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    kinds = ["nginx", "postgres", "redis", "python", "keycloak"]
    require_images(docker_client, [CATALOG[k].image for k in kinds])
    name = f"e2e-auth-mvc-{secrets.token_hex(3)}"
    root = tmp_path_factory.mktemp(name)
    spec = root / "archgen.yaml"
    data = _mvc_spec(name)
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    project = root / name
    archgen("new", spec, "-o", project)
    env = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()
               if "=" in line and not line.startswith("#"))
    https_port = int(data["proxy"]["https_port"])
    client = httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=30)
    try:
        archgen("up", "--wait", "--timeout", "1200", cwd=project, timeout=1500)
        yield Stack(name, project, client, env, https_port)
    finally:
        client.close()
        archgen("down", "--volumes", cwd=project, check=False, timeout=300)


def test_mvc_401_403_200_through_nginx(mvc: Stack) -> None:
    demo = mvc.token("demo", mvc.env["AUTH_DEMO_PASSWORD"])
    assert _claims(demo)["iss"] == mvc.issuer
    assert mvc.client.get("/api/products").status_code == 401
    assert mvc.client.get("/healthz").status_code == 200
    created = mvc.client.post("/api/products", headers=_bearer(demo),
                              json={"title": "lamp", "price": 9.5})
    assert created.status_code == 201, created.text
    listed = mvc.client.get("/api/products", headers=_bearer(demo))
    assert listed.status_code == 200 and listed.json()["total"] >= 1
    # A user with products:read only: reads products, may not write them nor read reviews.
    admin = mvc.token("admin", mvc.secret("keycloak_admin_password"), realm="master",
                      client_id="admin-cli")
    api = f"/auth/admin/realms/{REALM}"
    password = secrets.token_urlsafe(16)
    made = mvc.client.post(f"{api}/users", headers=_bearer(admin), json={
        "username": "viewer", "enabled": True, "emailVerified": True, "firstName": "V",
        "lastName": "Iewer", "email": "viewer@example.com",
        "credentials": [{"type": "password", "value": password, "temporary": False}]})
    assert made.status_code == 201, made.text
    user_id = made.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    role = mvc.client.get(f"{api}/roles/products:read", headers=_bearer(admin)).json()
    assert mvc.client.post(f"{api}/users/{user_id}/role-mappings/realm", headers=_bearer(admin),
                           json=[role]).status_code == 204
    viewer = _bearer(mvc.token("viewer", password))
    assert mvc.client.get("/api/products", headers=viewer).status_code == 200
    assert mvc.client.post("/api/products", headers=viewer,
                           json={"title": "x", "price": 1.0}).status_code == 403
    assert mvc.client.get("/api/reviews", headers=viewer).status_code == 403
