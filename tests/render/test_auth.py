"""`auth: {provider: keycloak}`: the realm file, Keycloak's workloads and the edge's /auth/ route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.errors import ArchgenError
from archgen.model import resolve_data
from archgen.render import Renderer
from archgen.spec import spec_from_data
from tests.helpers import unavailable


def _spec(gateway: str = "envoy", **auth: Any) -> dict[str, Any]:
    return {
        "name": "shop", "architecture": "microservices",
        "gateway": {"kind": gateway, "http_port": 8080, "https_port": 8443},
        "auth": {"provider": "keycloak", **auth},
        "services": [{"name": "orders", "database": "postgres"}, {"name": "payments"}],
        "sagas": [{"name": "place-order", "steps": [
            {"service": "orders", "action": "create", "compensate": "cancel"},
            {"service": "payments", "action": "charge"}]}],
    }


@pytest.fixture(scope="module", params=["envoy", "nginx"])
def project(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp(f"auth-{request.param}") / "shop"
    Renderer(spec_from_data(_spec(str(request.param))), target).write()
    return target


def test_the_realm_file_has_roles_clients_and_the_demo_user(project: Path) -> None:
    realm = json.loads((project / "keycloak/realm.json").read_text())
    assert realm["realm"] == "shop" and realm["enabled"] is True
    roles = [r["name"] for r in realm["roles"]["realm"]]
    assert roles == [f"{s}:{a}" for s in ("orders", "payments", "sagas") for a in ("read", "write")]
    clients = {c["clientId"]: c for c in realm["clients"]}
    cli, gateway = clients["shop-cli"], clients["shop-gateway"]
    assert cli["publicClient"] is True and cli["directAccessGrantsEnabled"] is True
    assert gateway["publicClient"] is False
    # Secrets are placeholders Keycloak fills from its environment: never in the file.
    assert gateway["secret"] == "${AUTH_GATEWAY_CLIENT_SECRET}"
    (demo,) = realm["users"]
    assert demo["username"] == "demo" and sorted(demo["realmRoles"]) == sorted(roles)
    assert demo["credentials"][0]["value"] == "${AUTH_DEMO_PASSWORD}"
    assert demo["email"] and demo["firstName"] and demo["lastName"]  # Keycloak 26's user profile


def test_keycloak_runs_on_its_own_postgres_behind_the_edge(project: Path) -> None:
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    services = compose["services"]
    keycloak = services["keycloak"]
    env = keycloak["environment"]
    assert keycloak["command"] == ["start", "--import-realm"]
    assert env["KC_HOSTNAME"] == "https://127.0.0.1:8443/auth"
    assert env["KC_HTTP_RELATIVE_PATH"] == "/auth" and env["KC_PROXY_HEADERS"] == "xforwarded"
    assert env["KC_DB"] == "postgres" and env["KC_DB_USERNAME"] == "keycloak"
    assert env["KC_DB_PASSWORD_FILE"].startswith("/run/secrets/")
    assert "KC_DB_PASSWORD" not in env and "KC_BOOTSTRAP_ADMIN_PASSWORD" not in env
    # Clients reach it through the edge; the admin console is on its own loopback port.
    assert keycloak["ports"] == ["127.0.0.1:8180:8080"]
    assert env["KC_HOSTNAME_ADMIN"] == "http://127.0.0.1:8180/auth"
    assert set(keycloak["networks"]) == {"frontend", "keycloak-data"}
    assert services["keycloak-db"]["networks"] == ["keycloak-data"]
    joined = [name for name, s in services.items() if "keycloak-data" in s.get("networks", [])]
    assert sorted(joined) == ["keycloak", "keycloak-db"]
    assert "keycloak" in services["gateway"]["depends_on"]
    orders = services["orders"]["environment"]
    assert orders["APP_AUTH_ISSUER"] == "https://127.0.0.1:8443/auth/realms/shop"
    assert orders["APP_AUTH_JWKS_URL"] == ("http://keycloak:8080/auth/realms/shop/protocol/"
                                           "openid-connect/certs")
    assert services["orders-test"]["environment"]["APP_AUTH_DISABLED"] == "true"
    assert "AUTH_DEMO_PASSWORD=" in (project / ".env.example").read_text()
    assert (project / "secrets/auth_gateway_client_secret").is_file()


def test_the_edge_routes_auth_to_keycloak(project: Path) -> None:
    config = next(p for p in (project / "gateway").iterdir() if p.suffix in (".yaml", ".conf"))
    text = config.read_text()
    if config.suffix == ".yaml":
        envoy = yaml.safe_load(text)
        clusters = {c["name"]: c for c in envoy["static_resources"]["clusters"]}
        address = (clusters["keycloak"]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
                   ["endpoint"]["address"]["socket_address"])
        assert address == {"address": "keycloak", "port_value": 8080}
        assert "prefix: /auth/" in text and "prefix_rewrite: /auth/" in text
    else:
        assert "location /auth/ {" in text and "set $archgen_upstream keycloak:8080;" in text


def test_the_services_check_tokens(project: Path) -> None:
    for service in ("orders", "payments", "sagas"):
        app = project / "services" / service
        assert "PyJWT[crypto]==" in (app / "requirements.txt").read_text()
        source = (app / "src/app/auth.py").read_text()
        assert f'DEFAULT_ROLES: tuple[str, ...] = ("{service}",)' in source
        assert "install_auth(app)" in (app / "src/app/main.py").read_text()
    readme = (project / "README.md").read_text()
    assert "protocol/openid-connect/token" in readme and "orders:write" in readme


def test_the_realm_defaults_to_the_project_name_and_can_be_set() -> None:
    assert resolve_data(_spec()).context["auth"]["realm"] == "shop"
    assert resolve_data(_spec(realm="market")).context["auth"]["issuer"].endswith(
        "/auth/realms/market")


def test_without_auth_nothing_changes(tmp_path: Path) -> None:
    data = _spec()
    del data["auth"]
    Renderer(spec_from_data(data), tmp_path / "plain").write()
    assert not (tmp_path / "plain/keycloak").exists()
    assert not (tmp_path / "plain/services/orders/src/app/auth.py").exists()
    assert "PyJWT" not in (tmp_path / "plain/services/orders/requirements.txt").read_text()


def test_mvc_behind_nginx_has_a_role_per_entity(tmp_path: Path) -> None:
    data: dict[str, Any] = {
        "name": "store", "architecture": "mvc", "auth": {"provider": "keycloak"},
        "app": {"entities": [{"name": "product", "fields": {"title": "str"}},
                             {"name": "review", "fields": {"text": "str"}}]}}
    Renderer(spec_from_data(data), tmp_path / "store").write()
    root = tmp_path / "store"
    realm = json.loads((root / "keycloak/realm.json").read_text())
    assert [r["name"] for r in realm["roles"]["realm"]] == [
        "products:read", "products:write", "reviews:read", "reviews:write"]
    assert {c["clientId"] for c in realm["clients"]} == {"store-cli", "store-proxy"}
    nginx = (root / "proxy/nginx.conf").read_text()
    assert "location /auth/ {" in nginx and "set $archgen_keycloak keycloak:8080;" in nginx
    source = (root / "app/src/app/auth.py").read_text()
    assert 'ROLES: dict[str, str] = {"products": "products", "reviews": "reviews"}' in source
    compose = yaml.safe_load((root / "compose.yaml").read_text())["services"]
    assert "keycloak" in compose["proxy"]["depends_on"]
    assert compose["app"]["environment"]["APP_AUTH_ISSUER"] == (
        "https://127.0.0.1:8443/auth/realms/store")


@pytest.mark.parametrize("proxy", ["httpd", "envoy", "haproxy"])
def test_mvc_behind_other_proxies_is_refused_for_now(proxy: str) -> None:
    data: dict[str, Any] = {"name": "shop", "architecture": "mvc", "proxy": {"kind": proxy},
                            "auth": {"provider": "keycloak"}}
    with pytest.raises(ArchgenError, match="not available yet"):
        spec_from_data(data)


def test_scaled_is_refused_for_now() -> None:
    data: dict[str, Any] = {"name": "shop", "architecture": "scaled",
                            "auth": {"provider": "keycloak"}}
    with pytest.raises(ArchgenError, match="auth"):
        spec_from_data(data)


@pytest.mark.parametrize("architecture,kind", [("microservices", "nginx"),
                                               ("microservices", "envoy"), ("mvc", "nginx")])
def test_the_real_binary_accepts_the_edge_config_with_auth(architecture: str, kind: str,
                                                           tmp_path: Path) -> None:
    import shutil
    import subprocess

    binary = shutil.which(kind)
    if binary is None:
        unavailable(f"{kind} is not installed here")
    data: dict[str, Any] = (_spec(kind) if architecture == "microservices" else
                            {"name": "store", "architecture": "mvc",
                             "auth": {"provider": "keycloak"}})
    project = tmp_path / "p"
    Renderer(spec_from_data(data), project).write()
    folder = project / ("gateway" if architecture == "microservices" else "proxy")
    config = folder / ("envoy.yaml" if kind == "envoy" else "nginx.conf")
    text = config.read_text().replace("/etc/archgen/tls/", f"{folder}/tls/")
    assert "/auth/" in text
    copy = tmp_path / config.name
    copy.write_text(text)
    if kind == "nginx":
        command = [binary, "-t", "-c", str(copy), "-g", f"pid {tmp_path}/nginx.pid;"]
    else:
        command = [binary, "--mode", "validate", "-c", str(copy), "--log-level", "warn"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "[warn" not in output, output
