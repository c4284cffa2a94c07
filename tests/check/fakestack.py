"""A tiny stand-in for a project's edge and app on 127.0.0.1: HTTPS with the project's own
certificate, HTTP redirecting to it, /readyz, CRUD with X-Cache, and a fixed-window rate limit."""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from archgen.render._secrets import write_tls_pair


@dataclass
class Behaviour:
    """What the fake does; tests break one thing at a time."""

    rate_limit: int = 5
    window: int = 60
    retry_after: str | None = "42"
    cache_hits: bool = True
    redirect_to: str | None = None  # default: https://127.0.0.1:<https port>
    ready: bool = True
    lose_updates: bool = False
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    cached: set[str] = field(default_factory=set)
    used: int = 0
    waited: float = 0.0

    def sleep(self, seconds: float) -> None:
        """The client's sleep: the window ends at once."""
        self.waited += seconds
        self.used = 0


def _handler(behaviour: Behaviour, https_port: int) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def limited(self) -> dict[str, str] | None:
            behaviour.used += 1
            headers = {"X-RateLimit-Limit": str(behaviour.rate_limit),
                       "X-RateLimit-Remaining": str(max(0, behaviour.rate_limit - behaviour.used))}
            if behaviour.used > behaviour.rate_limit:
                if behaviour.retry_after is not None:
                    headers["Retry-After"] = behaviour.retry_after
                self.answer(429, {"detail": "rate limit exceeded"}, headers)
                return None
            return headers

        def body(self) -> Any:
            length = int(self.headers.get("Content-Length", "0"))
            return json.loads(self.rfile.read(length) or b"null")

        def handle_any(self) -> None:
            path = self.path.split("?")[0]
            if path == "/readyz":
                checks = {"database": "ok" if behaviour.ready else "unavailable", "redis": "ok"}
                self.answer(200 if behaviour.ready else 503,
                            {"status": "ready" if behaviour.ready else "unavailable", "checks": checks})
                return
            headers = self.limited()
            if headers is None:
                return
            if path == "/whoami":
                self.answer(200, {"instance": "fake"}, headers)
                return
            parts = path.strip("/").split("/")
            if parts[:2] != ["api", "products"]:
                self.answer(404, {"detail": "not found"}, headers)
                return
            item_id = parts[2] if len(parts) > 2 else None
            if self.command == "POST" and item_id is None:
                new_id = uuid.uuid4().hex
                behaviour.items[new_id] = {**self.body(), "id": new_id}
                behaviour.cached.clear()
                self.answer(201, behaviour.items[new_id], headers)
            elif self.command == "GET" and item_id is None:
                items = list(behaviour.items.values())
                self.answer(200, {"items": items, "total": len(items), "limit": 100, "offset": 0},
                            {**headers, "X-Cache": "MISS"})
            elif item_id not in behaviour.items:
                self.answer(404, {"detail": "not found"}, headers)
            elif self.command == "GET":
                hit = item_id in behaviour.cached and behaviour.cache_hits
                behaviour.cached.add(item_id)
                self.answer(200, behaviour.items[item_id], {**headers, "X-Cache": "HIT" if hit else "MISS"})
            elif self.command == "PATCH":
                if not behaviour.lose_updates:
                    behaviour.items[item_id].update(self.body())
                behaviour.cached.clear()
                self.answer(200, behaviour.items[item_id], headers)
            elif self.command == "DELETE":
                del behaviour.items[item_id]
                behaviour.cached.clear()
                self.send_response(204)
                self.end_headers()

        do_GET = do_POST = do_PATCH = do_DELETE = handle_any

    return Handler


def _redirector(behaviour: Behaviour, https_port: int) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(301)
            self.send_header("Location", (behaviour.redirect_to or f"https://127.0.0.1:{https_port}")
                             + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Redirect


@contextmanager
def fake_stack(project: Path, behaviour: Behaviour) -> Iterator[dict[str, Any]]:
    """Serve the fake on two free ports of 127.0.0.1; yield a model context pointing at it."""
    tls = project / "proxy" / "tls"
    if not (tls / "cert.pem").is_file():
        write_tls_pair(tls, ["localhost"])
    https = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    https_port = https.server_address[1]
    https.RequestHandlerClass = _handler(behaviour, https_port)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls / "cert.pem", tls / "key.pem")
    https.socket = context.wrap_socket(https.socket, server_side=True)
    http = ThreadingHTTPServer(("127.0.0.1", 0), _redirector(behaviour, https_port))
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (https, http)]
    for thread in threads:
        thread.start()
    try:
        yield {
            "edge": {"service": "proxy", "dir": "proxy", "client_host": "127.0.0.1",
                     "http_port": http.server_address[1], "https_port": https_port},
            "app": {"service": "app", "entities": [{
                "name": "product", "path": "products",
                "fields": [{"name": "title", "type": "str", "required": True},
                           {"name": "price", "type": "float", "required": True}],
                "sample": {"title": "example", "price": 1.5}}]},
            "cache": {"service": "redis",
                      "rate_limit": {"requests": behaviour.rate_limit, "window_seconds": behaviour.window}},
        }
    finally:
        for server in (https, http):
            server.shutdown()
            server.server_close()
