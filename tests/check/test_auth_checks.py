"""`archgen check` with `auth`: the token checks come before every route that needs the token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archgen.check._checks import derive_checks, run_check
from archgen.model import resolve_data


def _names(spec: dict[str, Any], tmp_path: Path) -> list[str]:
    return [c.name for c in derive_checks(dict(resolve_data(spec).context), tmp_path)]


def test_mvc_checks_refusal_then_login_before_crud(tmp_path: Path) -> None:
    names = _names({"name": "shop", "architecture": "mvc", "auth": {"provider": "keycloak"}},
                   tmp_path)
    refused = names.index("GET /api/items without a token → 401")
    login = names.index("a token for demo from Keycloak through the edge")
    crud = names.index("CRUD /api/items")
    assert refused < login < crud
    assert not any("token" in n for n in _names({"name": "shop", "architecture": "mvc"},
                                                 tmp_path))


def test_microservices_checks_use_the_first_service(tmp_path: Path) -> None:
    names = _names({"name": "shop", "architecture": "microservices",
                    "auth": {"provider": "keycloak"},
                    "services": [{"name": "orders"}]}, tmp_path)
    assert names.index("GET /api/orders/orders without a token → 401") < names.index(
        "CRUD /api/orders/orders")


def test_a_client_without_headers_skips_the_login(tmp_path: Path) -> None:
    check = next(c for c in derive_checks(
        dict(resolve_data({"name": "shop", "architecture": "mvc",
                           "auth": {"provider": "keycloak"}}).context), tmp_path)
        if c.name.startswith("a token"))

    class Bare:
        def request(self, method: str, url: str, body: Any = None, *,
                    patient: bool = True) -> Any:
            raise AssertionError("not called")

        def peer_certificate(self, host: str, port: int) -> bytes:
            return b""

        def wait(self, seconds: float) -> None:
            pass

    assert run_check(check, Bare()).status == "skipped"
