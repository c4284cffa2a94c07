"""`auth: {provider: keycloak}`: the realm file, Keycloak's workloads and the edge's /auth/ route."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.model import resolve_data
from archgen.render import Renderer
from archgen.spec import spec_from_data
from tests.helpers import mvc_spec
from tests.render import test_gateway_configs as gateways
from tests.render.test_grpc_edges import _check, edge_for_this_host
from tests.render.test_proxy_configs import CONFIG_FILE, _require_binary


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


def _edge_spec(architecture: str, kind: str) -> dict[str, Any]:
    """A small project with auth whose edge is `kind`: mvc's proxy, scaled's load balancer."""
    if architecture == "microservices":
        return _spec(kind)
    if architecture == "mvc":
        return mvc_spec(proxy={"kind": kind}, auth={"provider": "keycloak"})
    return {"name": "shop", "architecture": "scaled", "load_balancer": {"kind": kind},
            "auth": {"provider": "keycloak"}, "app": {"replicas": 2, "api": ["rest", "grpc"],
                                                      "entities": [{"name": "product",
                                                                    "fields": {"title": "str"}}]},
            "database": {"engine": "postgres", "replicas": 2}, "cache": {"sentinel": False}}


def _edge_routes_auth(kind: str, text: str) -> None:
    """`/auth/` goes to keycloak:8080 with its path, X-Forwarded-* replaced, Keycloak's framing kept."""
    if kind == "nginx":
        block = text.split("location /auth/ {", 1)[1].split("\n        }", 1)[0]
        assert "set $archgen_keycloak keycloak:8080;" in block
        assert "proxy_pass http://$archgen_keycloak;" in block  # no URI part: the path is kept
        for header in ("X-Forwarded-For $remote_addr;", "X-Forwarded-Proto https;",
                       "X-Forwarded-Host $http_host;", "X-Request-ID $archgen_request_id;"):
            assert f"proxy_set_header {header}" in block
        assert "proxy_add_x_forwarded_for" not in text
        # add_header in the location replaces the server's: no X-Frame-Options DENY there.
        assert "X-Frame-Options" not in block and "Strict-Transport-Security" in block
        admin = text.split("location ^~ /auth/admin {", 1)[1].split("\n        }", 1)[0]
        assert "return 404" in admin
    elif kind == "httpd":
        auth = text.index('ProxyPass "/auth/" "http://keycloak:8080/auth/"')
        assert auth < text.index('ProxyPass "/" "http://app:8000/"'), "matched before the app"
        for line in ("RequestHeader unset X-Forwarded-For", "RequestHeader unset X-Forwarded-Host",
                     'RequestHeader set X-Forwarded-Proto "https"'):
            assert line in text
        assert 'RewriteRule "^/auth/admin(/|$)" "-" [R=404,L]' in text
        app_only = '"expr=%{REQUEST_URI} !~ m#^/auth/#"'
        assert f'Header always set X-Frame-Options "DENY" {app_only}' in text
        assert f"Header unset X-Frame-Options {app_only}" in text
    elif kind == "haproxy":
        for line in ("http-request set-header X-Forwarded-For %[src]",
                     "http-request set-header X-Forwarded-Proto https",
                     "http-request set-header X-Forwarded-Host %[req.hdr(host)]",
                     "http-request set-var(txn.keycloak) bool(true) if { path_beg /auth/ }",
                     "use_backend keycloak if { var(txn.keycloak) -m bool }",
                     "X-Frame-Options DENY unless { var(txn.keycloak) -m bool }",
                     "http-request deny deny_status 404 if { path,url_dec -m reg "
                     "'^(/+[.]?)*/+auth(/+[.]?)*/+admin(/|$)' }"):
            assert line in text
        assert "add-header X-Forwarded" not in text
        backend = text.split("backend keycloak\n", 1)[1]
        assert "server keycloak keycloak:8080 " in backend
    else:
        listener = next(listener for listener in yaml.safe_load(text)["static_resources"]["listeners"]
                        if listener["name"] == "https")
        manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
        config = manager["route_config"]
        added = {h["header"]["key"]: h for h in config["request_headers_to_add"]}
        for key in ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"):
            assert added[key]["append_action"] == "OVERWRITE_IF_EXISTS_OR_ADD"
        assert manager["preserve_external_request_id"] is True
        assert "x-frame-options" not in {h["header"]["key"] for h in config["response_headers_to_add"]}
        routes = config["virtual_hosts"][0]["routes"]
        (keycloak,) = [r for r in routes if r["match"].get("prefix") == "/auth/"]
        assert keycloak["route"]["cluster"] == "keycloak" and "prefix_rewrite" not in keycloak["route"]
        assert "response_headers_to_add" not in keycloak
        (admin,) = [r for r in routes if r["match"].get("prefix") == "/auth/admin"]
        assert admin["direct_response"]["status"] == 404
        assert routes.index(admin) < routes.index(keycloak)
        assert manager["normalize_path"] is True and manager["merge_slashes"] is True
        for route in routes:
            if route is not keycloak:
                assert [h["header"] for h in route["response_headers_to_add"]] == [
                    {"key": "x-frame-options", "value": "DENY"}], route
        clusters = {c["name"]: c for c in yaml.safe_load(text)["static_resources"]["clusters"]}
        (endpoint,) = clusters["keycloak"]["load_assignment"]["endpoints"][0]["lb_endpoints"]
        assert endpoint["endpoint"]["address"]["socket_address"] == {
            "address": "keycloak", "port_value": 8080}


EDGES = [("mvc", "nginx"), ("mvc", "httpd"), ("mvc", "envoy"), ("mvc", "haproxy"),
         ("scaled", "nginx"), ("scaled", "envoy"), ("scaled", "haproxy"),
         ("microservices", "nginx"), ("microservices", "envoy")]


@pytest.mark.parametrize(("architecture", "kind"), EDGES)
def test_every_edge_routes_auth_and_its_real_binary_accepts_it(architecture: str, kind: str,
                                                                tmp_path: Path) -> None:
    binary = _require_binary(kind)
    project = tmp_path / "p"
    Renderer(spec_from_data(_edge_spec(architecture, kind)), project).write()
    folder = {"mvc": "proxy", "scaled": "lb", "microservices": "gateway"}[architecture]
    text = (project / folder / CONFIG_FILE[kind]).read_text()
    compose = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    assert "keycloak" in compose[folder]["depends_on"]
    if architecture == "microservices":
        assert "/auth/" in text  # the gateway's own route list: test_the_edge_routes_auth_to_keycloak
        copy = gateways._for_this_host(kind, project, tmp_path, None)
    else:
        _edge_routes_auth(kind, text)
        copy = edge_for_this_host(kind, architecture, project, tmp_path)
    _check(kind, binary, copy, tmp_path)


def test_the_edge_config_label_changes_with_auth() -> None:
    """`up` recreates the edge when auth is added: its config label covers the /auth/ route."""
    for architecture, kind in EDGES:
        data = _edge_spec(architecture, kind)
        with_auth = resolve_data(spec_from_data(data).data)
        del data["auth"]
        without = resolve_data(spec_from_data(data).data)
        service = with_auth.context["edge"]["service"]

        def label(architecture: Any, service: str = service) -> str:
            (edge,) = [w for w in architecture.workloads if w.name == service]
            return str(dict(edge.labels)["io.archgen.edge-config"])

        assert label(with_auth) != label(without), (architecture, kind)


def test_scaled_every_replica_checks_tokens_with_a_role_per_entity(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    Renderer(spec_from_data(_edge_spec("scaled", "haproxy")), root).write()
    compose = yaml.safe_load((root / "compose.yaml").read_text())["services"]
    for replica in ("app-1", "app-2"):
        env = compose[replica]["environment"]
        assert env["APP_AUTH_ISSUER"] == "https://127.0.0.1:8443/auth/realms/shop"
        assert env["APP_AUTH_JWKS_URL"] == ("http://keycloak:8080/auth/realms/shop/protocol/"
                                            "openid-connect/certs")
        assert env["APP_AUTH_CLIENTS"] == "shop-cli,shop-lb"
    assert "keycloak" in compose["lb"]["depends_on"]
    assert compose["keycloak"]["environment"]["KC_HOSTNAME"] == "https://127.0.0.1:8443/auth"
    realm = json.loads((root / "keycloak/realm.json").read_text())
    assert [r["name"] for r in realm["roles"]["realm"]] == ["products:read", "products:write"]
    assert 'ROLES: dict[str, str] = {"products": "products"}' in (
        root / "app/src/app/auth.py").read_text()
    assert "protocol/openid-connect/token" in (root / "README.md").read_text()
