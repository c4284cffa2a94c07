"""Smoke checks derived from the resolved model: the edge, readiness, CRUD, the rate limit, the cache."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archgen.check._http import Answer, Client

MAX_RATE_LIMIT_REQUESTS = 300
"""The rate-limit check sends at most this many requests; a larger limit is skipped."""

MAX_WAIT_SECONDS = 120
"""The rate-limit check waits at most this long for a fresh window."""

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


class CheckFailure(Exception):
    """A check found something wrong; `answer` is the response that shows it."""

    def __init__(self, message: str, answer: Answer | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.answer = answer


class CheckSkipped(Exception):
    """A check that cannot run here, with the reason."""


@dataclass(frozen=True)
class Check:
    """One smoke check: its name, the service it exercises, and what it does."""

    name: str
    service: str
    run: Callable[[Client], str]  # returns what it saw; raises CheckFailure / CheckSkipped
    logs_from: tuple[str, ...] = ()  # the compose services behind `service` (default: itself)


@dataclass
class CheckResult:
    """The outcome of one check (or one step of the run: up, down)."""

    name: str
    service: str
    status: str
    message: str = ""
    seconds: float = 0.0
    response: str = ""
    logs: list[str] = field(default_factory=list)
    kind: str = "check"  # check | step (render, up, down)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "service": self.service, "status": self.status,
                "message": self.message, "seconds": round(self.seconds, 3),
                "response": self.response, "logs": self.logs}


def run_check(check: Check, client: Client) -> CheckResult:
    started = time.monotonic()
    try:
        message = check.run(client)
        status, response = PASSED, ""
    except CheckFailure as failure:
        status, message = FAILED, failure.message
        response = failure.answer.describe() if failure.answer else ""
    except CheckSkipped as skipped:
        status, message, response = SKIPPED, str(skipped), ""
    except (OSError, ssl.SSLError, ValueError) as error:  # refused, reset, timeout, bad JSON
        status, message, response = FAILED, f"{type(error).__name__}: {error}", ""
    return CheckResult(check.name, check.service, status, message, time.monotonic() - started, response)


def _expect(answer: Answer, *statuses: int, what: str) -> Answer:
    if answer.status not in statuses:
        wanted = " or ".join(str(s) for s in statuses)
        raise CheckFailure(f"{what}: expected {wanted}, got {answer.status}", answer)
    return answer


def derive_checks(context: dict[str, Any], project: Path) -> list[Check]:
    """The checks for one resolved model (`Architecture.context`) rendered into `project`."""
    from archgen.check._observability import observability_checks

    return _edge_and_app_checks(context, project) + observability_checks(context)


def _edge_and_app_checks(context: dict[str, Any], project: Path) -> list[Check]:
    edge = context["edge"]
    host = str(edge["client_host"])
    https = f"https://{host}:{edge['https_port']}"
    app_service = str(context.get("app", {}).get("service", "app"))
    app_instances = tuple(str(i) for i in context.get("app", {}).get("instances") or [app_service])
    checks = [
        Check(f"edge TLS on :{edge['https_port']}", str(edge["service"]),
              lambda client: _tls(client, host, int(edge["https_port"]),
                                  project / str(edge["dir"]) / "tls" / "cert.pem")),
        Check(f"edge :{edge['http_port']} redirects to HTTPS", str(edge["service"]),
              lambda client: _redirect(client, f"http://{host}:{edge['http_port']}/api/",
                                       int(edge["https_port"]))),
        Check("/readyz through the edge", app_service, lambda client: _ready(client, https), app_instances),
    ]
    if context.get("auth"):  # before the routes that need its token
        from archgen.check._auth import auth_checks

        checks[2:2] = auth_checks(context, project, https)
    if context.get("architecture") == "microservices":
        # Through the gateway: each service's /readyz and CRUD under /api/<service>/ (no Redis).
        checks.pop()
        # The orchestrator is reached at /api/sagas/<saga> only (its routes keep /sagas/).
        for service in [s for s in context["services"] if s["role"] == "service"]:
            name = str(service["name"])
            checks.append(Check(f"/api/{name}/readyz through the gateway", name,
                                partial(_ready, https=f"{https}/api/{name}")))
            for entity in service["entities"]:
                routed = {**entity, "path": f"{name}/{entity['path']}"}
                checks.append(Check(f"CRUD /api/{routed['path']}", name,
                                    partial(_crud, https=https, entity=routed)))
        return checks
    entities = list(context.get("app", {}).get("entities") or [])
    for entity in entities:
        checks.append(Check(f"CRUD /api/{entity['path']}", app_service,
                            partial(_crud, https=https, entity=entity), app_instances))
    cache = context.get("cache") or {}
    if entities:
        checks.append(Check(f"cache serves a second GET /api/{entities[0]['path']}/<id> from Redis",
                            str(cache.get("service", "redis")),
                            lambda client: _cache(client, https, entities[0]),
                            (*app_instances, str(cache.get("service", "redis")))))
    limit = cache.get("rate_limit")
    if limit:
        checks.append(Check(f"rate limit: 429 after {limit['requests']} requests per "
                            f"{limit['window_seconds']} s", app_service,
                            lambda client: _rate_limit(client, https, int(limit["requests"]),
                                                       int(limit["window_seconds"])),
                            app_instances))
    return checks


def _tls(client: Client, host: str, port: int, own: Path) -> str:
    served = client.peer_certificate(host, port)
    if not own.is_file():
        raise CheckFailure(f"the project's certificate {own} is missing")
    expected = ssl.PEM_cert_to_DER_cert(own.read_text(encoding="ascii"))
    if served != expected:
        raise CheckFailure(f"{host}:{port} serves a certificate that is not the project's own ({own})")
    return f"{host}:{port} serves the project's certificate"


def _redirect(client: Client, url: str, https_port: int) -> str:
    answer = _expect(client.request("GET", url), 301, 302, 307, 308, what=f"GET {url}")
    location = answer.headers.get("location", "")
    target = urlsplit(location)
    port = target.port or (443 if target.scheme == "https" else None)
    if target.scheme != "https" or port != https_port:
        raise CheckFailure(f"redirects to {location!r}, not to HTTPS on port {https_port}", answer)
    return f"{answer.status} → {location}"


def _ready(client: Client, https: str) -> str:
    answer = _expect(client.request("GET", f"{https}/readyz"), 200, what="GET /readyz")
    body = answer.json()
    if not isinstance(body, dict) or body.get("status") != "ready":
        raise CheckFailure("/readyz answered 200 without status \"ready\"", answer)
    return f"ready: {body.get('checks')}"


def _changed(entity: dict[str, Any]) -> dict[str, Any]:
    """A PATCH body that changes one field of the sample."""
    sample = entity["sample"]
    for item in entity["fields"]:
        name, kind = item["name"], item["type"]
        value = sample.get(name)
        if kind == "str" and isinstance(value, str):
            return {name: value + "-updated"}
        if kind == "bool" and isinstance(value, bool):
            return {name: not value}
        if kind in ("int", "float") and isinstance(value, int | float):
            return {name: value + 1}
    return {}


def _same(sent: Any, got: Any) -> bool:
    if isinstance(sent, float) or isinstance(got, float):
        return isinstance(got, int | float) and abs(float(sent) - float(got)) < 1e-9
    return bool(sent == got)


def _crud(client: Client, *, https: str, entity: dict[str, Any]) -> str:
    base = f"{https}/api/{entity['path']}"
    sample = entity["sample"]
    created = _expect(client.request("POST", base, sample), 201, what=f"POST /api/{entity['path']}")
    item = created.json()
    item_id = item.get("id") if isinstance(item, dict) else None
    if not item_id:
        raise CheckFailure("the created item has no id", created)
    url = f"{base}/{item_id}"
    read = _expect(client.request("GET", url), 200, what="GET the created item")
    got = read.json()
    wrong = sorted(k for k, v in sample.items()
                   if k in entity_fields(entity) and not _same(v, got.get(k)))
    if wrong:
        raise CheckFailure(f"read back differs from the sample in {', '.join(wrong)}", read)
    listed = _expect(client.request("GET", f"{base}?limit=100"), 200, what="GET the list")
    ids = [i.get("id") for i in listed.json().get("items", [])]
    if item_id not in ids and listed.json().get("total", 0) <= 100:
        raise CheckFailure(f"the list does not contain {item_id}", listed)
    change = _changed(entity)
    if change:
        updated = _expect(client.request("PATCH", url, change), 200, what="PATCH the item")
        key, value = next(iter(change.items()))
        if not _same(value, updated.json().get(key)):
            raise CheckFailure(f"PATCH did not change {key}", updated)
    _expect(client.request("DELETE", url), 204, what="DELETE the item")
    _expect(client.request("GET", url), 404, what="GET after DELETE")
    return f"created, read, listed, updated, deleted {entity['name']} {item_id}"


def entity_fields(entity: dict[str, Any]) -> set[str]:
    return {f["name"] for f in entity["fields"]}


def _cache(client: Client, https: str, entity: dict[str, Any]) -> str:
    base = f"{https}/api/{entity['path']}"
    created = _expect(client.request("POST", base, entity["sample"]), 201, what="POST an item")
    url = f"{base}/{created.json()['id']}"
    try:
        first = _expect(client.request("GET", url), 200, what="first GET")
        second = _expect(client.request("GET", url), 200, what="second GET")
        seen = (first.headers.get("x-cache"), second.headers.get("x-cache"))
        if seen != ("MISS", "HIT"):
            raise CheckFailure(f"X-Cache was {seen[0]!r} then {seen[1]!r}; expected 'MISS' then 'HIT'",
                               second)
        if first.body != second.body:
            raise CheckFailure("the cached answer differs from the first one", second)
    finally:
        client.request("DELETE", url)
    return "first GET: X-Cache MISS, second: HIT with the same body"


def _rate_limit(client: Client, https: str, requests: int, window: int) -> str:
    if requests + 1 > MAX_RATE_LIMIT_REQUESTS:
        raise CheckSkipped(f"the limit ({requests} requests per {window} s) cannot be reached within "
                           f"{MAX_RATE_LIMIT_REQUESTS} requests")
    url = f"{https}/whoami"  # limited (only the probes are exempt) and touches no database
    expected: int | None = None  # requests still allowed in the current window
    waited = False
    allowed = 0  # in the window being counted
    for sent in range(1, MAX_RATE_LIMIT_REQUESTS + 1):
        answer = client.request("GET", url, patient=False)
        if answer.status == 429:
            retry = answer.headers.get("retry-after", "")
            if not retry.isdigit() or not 1 <= int(retry) <= window:
                raise CheckFailure(f"429 without a Retry-After of 1..{window} s", answer)
            if expected is None and not waited:
                # The other checks used this window up: start counting in the next one.
                if int(retry) > MAX_WAIT_SECONDS:
                    raise CheckSkipped(f"the other checks used the window up and the next one begins "
                                       f"in {retry} s (more than {MAX_WAIT_SECONDS} s to wait)")
                client.wait(int(retry) + 0.2)
                waited = True
                continue
            if expected not in (None, 0):
                raise CheckFailure(f"429 with {expected} request(s) of the window still allowed", answer)
            return (f"429 with Retry-After: {retry} once X-RateLimit-Remaining reached 0 "
                    f"({allowed} request(s) allowed before it, after {sent} sent)")
        _expect(answer, 200, what=f"GET /whoami (request {sent})")
        allowed += 1
        limit = answer.headers.get("x-ratelimit-limit")
        remaining = answer.headers.get("x-ratelimit-remaining", "")
        if limit != str(requests):
            raise CheckFailure(f"X-RateLimit-Limit is {limit!r}, the spec says {requests}", answer)
        if not remaining.isdigit():
            raise CheckFailure("no X-RateLimit-Remaining header", answer)
        if expected is not None and int(remaining) != expected - 1:
            if int(remaining) >= expected:  # a new window began: count again from here
                expected, allowed = int(remaining), 1
                continue
            raise CheckFailure(f"X-RateLimit-Remaining went from {expected} to {remaining}", answer)
        expected = int(remaining)
    raise CheckFailure(f"no 429 after {MAX_RATE_LIMIT_REQUESTS} requests (limit {requests})")
