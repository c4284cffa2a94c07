"""A small HTTP client over urllib, so the installed tool needs nothing more.

No redirects are followed; TLS is not verified (the project's certificate is
self-signed: the TLS check compares the served certificate with the project's
own instead); and it reads the peer certificate of a TLS port.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

TIMEOUT = 10.0


@dataclass(frozen=True)
class Answer:
    """One HTTP response: status, headers (lower-case names), body."""

    method: str
    url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def describe(self, limit: int = 800) -> str:
        """The response as a report shows it."""
        head = "\n".join(f"{k}: {v}" for k, v in sorted(self.headers.items()))
        body = self.body[:limit].decode("utf-8", "replace")
        more = " …" if len(self.body) > limit else ""
        return f"{self.method} {self.url} → {self.status}\n{head}\n\n{body}{more}".rstrip()


class Client(Protocol):
    """What the checks need from HTTP (a test can pass its own)."""

    def request(self, method: str, url: str, body: Any = None, *, patient: bool = True) -> Answer:
        """One request; `patient` ones may wait out a 429 (Retry-After) and retry."""
        ...

    def peer_certificate(self, host: str, port: int) -> bytes: ...

    def wait(self, seconds: float) -> None:
        """Let time pass (a test's client makes a new rate-limit window begin instead)."""
        ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _insecure_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class UrllibClient:
    """The real client; with `patience`, a 429 is waited out (Retry-After) and retried."""

    def __init__(self, *, timeout: float = TIMEOUT, patience: float = 0.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.timeout = timeout
        self.patience = patience
        self.sleep = sleep
        self.waited = 0.0
        self.headers: dict[str, str] = {}  # sent with every request (a bearer token)
        self._opener = urllib.request.build_opener(
            _NoRedirect(), urllib.request.HTTPSHandler(context=_insecure_context())
        )

    def request(self, method: str, url: str, body: Any = None, *, patient: bool = True) -> Answer:
        answer = self._once(method, url, body)
        for _ in range(2):
            if answer.status != 429 or not (self.patience and patient):
                break
            wait = _seconds(answer.headers.get("retry-after"))
            if wait is None or self.waited + wait > self.patience:
                break
            self.wait(wait + 0.2)
            self.waited += wait
            answer = self._once(method, url, body)
        return answer

    def wait(self, seconds: float) -> None:
        self.sleep(seconds)

    def _once(self, method: str, url: str, body: Any) -> Answer:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        for name, value in self.headers.items():
            request.add_header(name, value)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Answer(method, url, response.status,
                              {k.lower(): v for k, v in response.headers.items()}, response.read())
        except urllib.error.HTTPError as error:
            return Answer(method, url, error.code,
                          {k.lower(): v for k, v in (error.headers or {}).items()}, error.read())

    def peer_certificate(self, host: str, port: int) -> bytes:
        with (socket.create_connection((host, port), timeout=self.timeout) as raw,
              _insecure_context().wrap_socket(raw, server_hostname=host) as tls):
            certificate = tls.getpeercert(binary_form=True)
        if not certificate:
            raise ssl.SSLError("the server sent no certificate")
        return certificate


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
