"""End to end on a real engine: Keycloak (`auth`) behind each kind of edge.

Four stacks, one per module fixture: microservices behind an Envoy gateway (two services,
orders on PostgreSQL, payments in memory, a saga over RabbitMQ), mvc behind nginx, scaled
with HAProxy over two replicas, mvc behind httpd; each with Keycloak on its own PostgreSQL.
Tokens come from the real Keycloak (the stand-in image) through the edge's `/auth/`; the
services check them. Users holding one role (`orders:read`, `products:read`) or none are
created through Keycloak's admin API (the bootstrap admin's password from the project's
secrets/ folder), so the realm file holds no test-only user.
"""

from __future__ import annotations

import base64
import http.client
import json
import secrets
import socket
import ssl
import time
from collections.abc import Callable, Iterator
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
        "ui_ports": {"rabbitmq": _free_port()},
    }


@dataclass
class Stack:
    name: str
    project: Path
    client: httpx.Client
    env: dict[str, str]
    https_port: int
    admin: httpx.Client  # Keycloak on its loopback admin port (ui_ports.keycloak)

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

    def admin_headers(self) -> dict[str, str]:
        """The master realm's admin, signed in on the admin port (the edge refuses /auth/admin)."""
        response = self.admin.post(
            "/auth/realms/master/protocol/openid-connect/token",
            data={"grant_type": "password", "client_id": "admin-cli", "username": "admin",
                  "password": self.secret("keycloak_admin_password")})
        assert response.status_code == 200, response.text
        return _bearer(str(response.json()["access_token"]))


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _started(docker_client: Any, tmp_path_factory: pytest.TempPathFactory, prefix: str,
             spec: Callable[[str], dict[str, Any]], edge: str, kinds: list[str]) -> Iterator[Stack]:
    """Render `spec(name)` under a fresh e2e name, bring it up, yield it, take it down."""
    require_images(docker_client, [CATALOG[k].image for k in [*kinds, "python", "keycloak"]])
    name = f"{prefix}-{secrets.token_hex(3)}"
    root = tmp_path_factory.mktemp(name)
    spec_file = root / "archgen.yaml"
    data = spec(name)
    # The module's stacks live side by side: each its own admin console port.
    data.setdefault("ui_ports", {}).setdefault("keycloak", _free_port())
    spec_file.write_text(yaml.safe_dump(data, sort_keys=False))
    project = root / name
    archgen("new", spec_file, "-o", project)
    env = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()
               if "=" in line and not line.startswith("#"))
    https_port = int(data[edge]["https_port"])
    client = httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=30)
    admin_port = data["ui_ports"]["keycloak"]
    admin = httpx.Client(base_url=f"http://127.0.0.1:{admin_port}", timeout=30)
    try:
        archgen("up", "--wait", "--timeout", "1200", cwd=project, timeout=1500)
        yield Stack(name, project, client, env, https_port, admin)
    finally:
        client.close()
        admin.close()
        archgen("down", "--volumes", cwd=project, check=False, timeout=300)


def _user_with_role(stack: Stack, username: str, role: str) -> str:
    """A token of a user created through the admin API holding `role` only (none: "")."""
    admin = stack.admin_headers()
    api = f"/auth/admin/realms/{REALM}"
    password = secrets.token_urlsafe(16)
    created = stack.admin.post(f"{api}/users", headers=admin, json={
        "username": username, "enabled": True, "emailVerified": True, "firstName": "Test",
        "lastName": username.capitalize(), "email": f"{username}@example.com",
        "credentials": [{"type": "password", "value": password, "temporary": False}]})
    assert created.status_code == 201, created.text
    user_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    if role:
        found = stack.admin.get(f"{api}/roles/{role}", headers=admin)
        assert found.status_code == 200, found.text
        mapped = stack.admin.post(f"{api}/users/{user_id}/role-mappings/realm",
                                  headers=admin, json=[found.json()])
        assert mapped.status_code == 204, mapped.text
    return stack.token(username, password)


@pytest.fixture(scope="module")
def stack(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _started(docker_client, tmp_path_factory, "e2e-auth", _spec, "gateway",
                        ["envoy", "rabbitmq", "postgres"])


@pytest.fixture(scope="module")
def demo(stack: Stack) -> str:
    return stack.token("demo", stack.env["AUTH_DEMO_PASSWORD"])


@pytest.fixture(scope="module")
def reader(stack: Stack) -> str:
    """A token of a user created through the admin API, holding `orders:read` only."""
    return _user_with_role(stack, "reader", "orders:read")


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

def test_the_admin_console_is_on_loopback_and_listed_by_status(stack: Stack) -> None:
    rows = json.loads(archgen("status", "--json", cwd=stack.project).stdout)
    uis = {r["service"]: r["ui"] for r in rows if r.get("ui")}
    assert set(uis) == {"keycloak", "bus"}  # Keycloak admin, RabbitMQ management
    console = uis["keycloak"]["url"]
    assert console.startswith("http://127.0.0.1:") and console.endswith("/auth/admin/")
    page = httpx.get(f"{console}master/console/", timeout=30)
    assert page.status_code == 200
    # The console signs in and calls the admin API on this loopback address, not the edge's.
    base = console.removesuffix("/admin/")
    assert f'"adminBaseUrl": "{base}"' in page.text
    assert f'"authUrl": "{base}"' in page.text
    token = httpx.post(f"{base}/realms/master/protocol/openid-connect/token", timeout=30, data={
        "grant_type": "password", "client_id": "admin-cli", "username": "admin",
        "password": stack.secret("keycloak_admin_password")})
    assert token.status_code == 200, token.text
    realm = httpx.get(f"{base}/admin/realms/{REALM}", timeout=30,
                      headers=_bearer(token.json()["access_token"]))
    assert realm.status_code == 200 and realm.json()["realm"] == REALM
    _the_admin_console_is_not_on_the_edge(stack)


def _mvc_spec(name: str, kind: str = "nginx") -> dict[str, Any]:
    return {
        "name": name, "architecture": "mvc",
        "proxy": {"kind": kind, "http_port": _free_port(), "https_port": _free_port()},
        "auth": {"provider": "keycloak", "realm": REALM},
        "database": {"engine": "postgres"},
        "app": {"entities": [{"name": "product", "fields": {"title": "str", "price": "float"}},
                             {"name": "review", "fields": {"text": "str"}}]},
    }


@pytest.fixture(scope="module")
def mvc(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _started(docker_client, tmp_path_factory, "e2e-auth-mvc", _mvc_spec, "proxy",
                        ["nginx", "postgres", "redis"])


def test_mvc_behind_nginx_keeps_the_admin_console_off_the_edge(mvc: Stack) -> None:
    _the_admin_console_is_not_on_the_edge(mvc)


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
    viewer = _bearer(_user_with_role(mvc, "viewer", "products:read"))
    assert mvc.client.get("/api/products", headers=viewer).status_code == 200
    assert mvc.client.post("/api/products", headers=viewer,
                           json={"title": "x", "price": 1.0}).status_code == 403
    assert mvc.client.get("/api/reviews", headers=viewer).status_code == 403


# -- scaled (HAProxy over two replicas) and mvc behind httpd: the /auth/ route of each edge --------

FORGED = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http",
          "X-Forwarded-For": "203.0.113.9"}


def _scaled_spec(name: str) -> dict[str, Any]:
    return {
        "name": name, "architecture": "scaled",
        "load_balancer": {"kind": "haproxy", "http_port": _free_port(), "https_port": _free_port()},
        "auth": {"provider": "keycloak", "realm": REALM},
        "app": {"replicas": 2, "entities": _mvc_spec(name)["app"]["entities"]},
        "database": {"engine": "postgres", "replicas": 1},
        "cache": {"sentinel": False},
    }


@pytest.fixture(scope="module")
def scaled(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _started(docker_client, tmp_path_factory, "e2e-auth-lb", _scaled_spec,
                        "load_balancer", ["haproxy", "postgres", "redis"])


@pytest.fixture(scope="module")
def httpd(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from _started(docker_client, tmp_path_factory, "e2e-auth-httpd",
                        lambda name: _mvc_spec(name, "httpd"), "proxy", ["httpd", "postgres", "redis"])


def _roles_are_enforced(stack: Stack) -> set[str]:
    """No token → 401, a token without the role → 403, with it → 200; the replicas that answered."""
    served: set[str] = set()
    for _ in range(4):
        refused = stack.client.get("/api/products")
        assert refused.status_code == 401, refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
        served.add(refused.headers["x-served-by"])
    demo = stack.token("demo", stack.env["AUTH_DEMO_PASSWORD"])
    created = stack.client.post("/api/products", headers=_bearer(demo),
                                json={"title": "lamp", "price": 9.5})
    assert created.status_code == 201, created.text
    viewer = _bearer(_user_with_role(stack, "viewer", "products:read"))
    for _ in range(4):
        listed = stack.client.get("/api/products", headers=viewer)
        assert listed.status_code == 200 and listed.json()["total"] >= 1, listed.text
        served.add(listed.headers["x-served-by"])
        forbidden = stack.client.get("/api/reviews", headers=viewer)
        assert forbidden.status_code == 403, forbidden.text
        assert "reviews:read" in forbidden.json()["detail"]
        served.add(forbidden.headers["x-served-by"])
    written = stack.client.post("/api/products", headers=viewer, json={"title": "x", "price": 1.0})
    assert written.status_code == 403, written.text
    nobody = _bearer(_user_with_role(stack, "nobody", ""))
    assert stack.client.get("/api/products", headers=nobody).status_code == 403
    return served


def _forged_forwarded_headers_change_nothing(stack: Stack) -> None:
    """The edge replaces X-Forwarded-*: the issuer stays the public URL, the session's address real."""
    discovery = stack.client.get(f"/auth/realms/{REALM}/.well-known/openid-configuration",
                                 headers=FORGED)
    assert discovery.status_code == 200, discovery.text
    assert discovery.json()["issuer"] == stack.issuer
    assert "evil.example" not in discovery.text
    response = stack.client.post(
        f"/auth/realms/{REALM}/protocol/openid-connect/token", headers=FORGED,
        data={"grant_type": "password", "client_id": f"{stack.name}-cli", "username": "demo",
              "password": stack.env["AUTH_DEMO_PASSWORD"]})
    assert response.status_code == 200, response.text
    assert _claims(response.json()["access_token"])["iss"] == stack.issuer
    # Keycloak records the client address it believed (from X-Forwarded-For) on the session.
    admin = stack.admin_headers()
    api = f"/auth/admin/realms/{REALM}"
    (user,) = stack.admin.get(f"{api}/users", params={"username": "demo", "exact": "true"},
                              headers=admin).json()
    sessions = stack.admin.get(f"{api}/users/{user['id']}/sessions", headers=admin).json()
    addresses = {s["ipAddress"] for s in sessions}
    assert addresses and FORGED["X-Forwarded-For"] not in addresses, addresses


def _the_admin_console_is_not_on_the_edge(stack: Stack) -> None:
    """The edge answers 404 to Keycloak's admin paths in any spelling; the admin port serves them."""
    admin = stack.admin_headers()
    for path in ("/auth/admin/", "/auth/admin/master/console/", f"/auth/admin/realms/{REALM}",
                 f"//auth//admin/realms/{REALM}", f"/auth/./admin/realms/{REALM}",
                 f"/auth/%61dmin/realms/{REALM}"):
        # http.client sends the path as written (httpx would normalize it first).
        connection = http.client.HTTPSConnection(
            "127.0.0.1", stack.https_port, context=ssl._create_unverified_context(), timeout=30)
        try:
            connection.request("GET", path, headers=admin)
            status = connection.getresponse().status
        finally:
            connection.close()
        assert status == 404, (path, status)
    assert stack.admin.get(f"/auth/admin/realms/{REALM}", headers=admin).status_code == 200


def _keycloak_keeps_its_own_framing_policy(stack: Stack) -> None:
    app = stack.client.get("/healthz")
    assert app.headers["x-frame-options"] == "DENY"
    keycloak = stack.client.get(f"/auth/realms/{REALM}/.well-known/openid-configuration")
    assert keycloak.headers.get("x-frame-options") != "DENY"
    for response in (app, keycloak):
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert response.headers["x-request-id"]


def test_scaled_behind_haproxy_every_replica_checks_tokens(scaled: Stack) -> None:
    demo = scaled.token("demo", scaled.env["AUTH_DEMO_PASSWORD"])
    assert _claims(demo)["iss"] == scaled.issuer
    assert _roles_are_enforced(scaled) == {"app-1", "app-2"}


def test_scaled_behind_haproxy_forwarded_headers_are_the_edges(scaled: Stack) -> None:
    _forged_forwarded_headers_change_nothing(scaled)
    _the_admin_console_is_not_on_the_edge(scaled)
    _keycloak_keeps_its_own_framing_policy(scaled)


def test_mvc_behind_httpd_checks_tokens(httpd: Stack) -> None:
    demo = httpd.token("demo", httpd.env["AUTH_DEMO_PASSWORD"])
    assert _claims(demo)["iss"] == httpd.issuer
    assert len(_roles_are_enforced(httpd)) == 1  # the one app container (its hostname)


def test_mvc_behind_httpd_forwarded_headers_are_the_edges(httpd: Stack) -> None:
    _forged_forwarded_headers_change_nothing(httpd)
    _the_admin_console_is_not_on_the_edge(httpd)
    _keycloak_keeps_its_own_framing_policy(httpd)
