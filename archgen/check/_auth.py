"""Smoke checks of `auth` (Keycloak): no token is refused, the demo user gets one through the edge.

They run before the CRUD checks: the second hands the token to the client (its `headers`),
so every later request carries it.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

from archgen.check._checks import Check, CheckFailure, CheckSkipped, _expect
from archgen.check._http import Client

TIMEOUT = 30.0


def auth_checks(context: dict[str, Any], project: Path, https: str) -> list[Check]:
    """The checks of `context["auth"]` (none without it)."""
    auth = context.get("auth")
    if not auth:
        return []
    if context.get("architecture") == "microservices":
        service = next(s for s in context["services"] if s["role"] == "service")
        name, path = str(service["name"]), f"/api/{service['name']}/{service['entities'][0]['path']}"
    else:
        name, path = str(context["app"]["service"]), f"/api/{context['app']['entities'][0]['path']}"
    return [
        Check(f"GET {path} without a token → 401", name, partial(_refused, url=f"{https}{path}")),
        Check(f"a token for {auth['demo_user']} from Keycloak through the edge", str(auth["service"]),
              partial(_login, auth=auth, project=project)),
    ]


def _refused(client: Client, url: str) -> str:
    answer = _expect(client.request("GET", url), 401, what="GET without a token")
    if not answer.headers.get("www-authenticate", "").startswith("Bearer"):
        raise CheckFailure("401 without a Bearer challenge (WWW-Authenticate)", answer)
    return "401 with a Bearer challenge"


def _demo_password(project: Path, variable: str) -> str:
    for line in (project / ".env").read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == variable:
            return value.strip()
    raise CheckFailure(f"{variable} is not set in {project / '.env'}")


def _login(client: Client, *, auth: dict[str, Any], project: Path) -> str:
    headers = getattr(client, "headers", None)
    if not isinstance(headers, dict):
        raise CheckSkipped("this HTTP client cannot carry a token")
    form = urllib.parse.urlencode({
        "grant_type": "password", "client_id": auth["cli_client"], "username": auth["demo_user"],
        "password": _demo_password(project, str(auth["demo_password_variable"]))}).encode()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the edge's self-signed certificate, on this machine
    request = urllib.request.Request(str(auth["token_url"]), data=form, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=context) as response:
            body = json.load(response)
    except urllib.error.HTTPError as error:
        raise CheckFailure(f"the token endpoint answered {error.code}: "
                           f"{error.read()[:300].decode(errors='replace')}") from None
    except (OSError, ValueError) as error:
        raise CheckFailure(f"no token from {auth['token_url']}: {error}") from None
    token = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(token, str):
        raise CheckFailure("the token endpoint answered without an access_token")
    headers["Authorization"] = f"Bearer {token}"
    return f"a token from {auth['token_url']}; the next checks send it"
