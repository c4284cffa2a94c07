"""The API gateway configs (envoy, nginx): the real binary accepts them, and they route real traffic.

Rendered from a microservices spec, checked with `envoy --mode validate` / `nginx -t`, then
run on 127.0.0.1 in front of an echo server standing in for every service, so the prefix
stripping, the request ids, the forwarded headers, the 404 for unknown paths, the body
limit, the per-client rate limit and (envoy) retries of idempotent methods only are seen on
the wire. The copy each test runs differs from the render only where this host differs.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archgen.render import render_project
from tests.render.test_proxy_configs import _free_port, _require_binary

KINDS = ("envoy", "nginx")
RATE = 20  # requests per client per window: the other tests stay under it, this one crosses it
BODY_LIMIT_MB = 1


class _Echo(BaseHTTPRequestHandler):
    """Answer what was received; the first time each path is seen, `/flaky…` answers 503
    and `/dropped…` closes the connection without an answer (a service that went away)."""

    protocol_version = "HTTP/1.1"
    seen: set[str] = set()
    lock = threading.Lock()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if "/flaky" in self.path or "/dropped" in self.path:
            with self.lock:
                first = self.path not in self.seen
                self.seen.add(self.path)
            if first and "/dropped" in self.path:
                self.close_connection = True
                return
            if first:
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        data = json.dumps({"method": self.command, "path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def echo() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def _render(kind: str, root: Path, *, prometheus: bool = False) -> Path:
    project = root / f"market-{kind}"
    observed = {"observability": ["prometheus"]} if prometheus else {}
    render_project({**observed,
        "name": "market", "architecture": "microservices",
        "gateway": {"kind": kind, "body_limit_mb": BODY_LIMIT_MB},
        "cache": {"rate_limit": {"requests": RATE, "window": "60s"}},
        "services": [{"name": "orders"}, {"name": "stock", "database": "mysql"}],
        "sagas": [{"name": "place", "steps": [{"service": "orders", "action": "create"}]}],
    }, project)
    return project


def _for_this_host(kind: str, project: Path, work: Path, ports: dict[str, int] | None) -> Path:
    """The TLS paths of this project; with `ports`, listeners and services on 127.0.0.1."""
    config = project / "gateway" / ("envoy.yaml" if kind == "envoy" else "nginx.conf")
    text = config.read_text().replace("/etc/archgen/tls/", f"{project}/gateway/tls/")
    if ports and kind == "nginx":
        text, n = re.subn(r"set \$archgen_upstream [a-z-]+:8000;",
                          f"set $archgen_upstream 127.0.0.1:{ports['echo']};", text)
        assert n == 6  # orders, stock, sagas: the route and its retry each
        text = re.sub(r"listen 8080 ", f"listen 127.0.0.1:{ports['http']} ", text)
        text = re.sub(r"listen 8443 ", f"listen 127.0.0.1:{ports['https']} ", text)
    elif ports:
        data = yaml.safe_load(text)
        data["admin"]["address"]["socket_address"]["port_value"] = ports["admin"]
        for listener in data["static_resources"]["listeners"]:
            address = listener["address"]["socket_address"]
            address.update(address="127.0.0.1", port_value=ports[listener["name"]])
        for cluster in data["static_resources"]["clusters"]:
            endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]
            endpoint["endpoint"]["address"]["socket_address"] = {
                "address": "127.0.0.1", "port_value": ports["echo"]}
            cluster["type"] = "STATIC"
        text = yaml.safe_dump(data, sort_keys=False)
    copy = work / config.name
    copy.write_text(text)
    return copy


@pytest.mark.parametrize("prometheus", [False, True], ids=["plain", "prometheus"])
@pytest.mark.parametrize("kind", KINDS)
def test_the_real_binary_accepts_the_gateway_config(kind: str, prometheus: bool,
                                                    tmp_path: Path) -> None:
    binary = _require_binary(kind)
    project = _render(kind, tmp_path, prometheus=prometheus)
    config = _for_this_host(kind, project, tmp_path, None)
    if prometheus and kind == "envoy":  # its own metrics, on a listener never published
        listeners = yaml.safe_load(config.read_text())["static_resources"]["listeners"]
        assert listeners[-1]["name"] == "metrics"
    if kind == "nginx":
        done = subprocess.run([binary, "-t", "-c", str(config), "-g",
                               f"pid {tmp_path}/nginx.pid;"], capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0 and "[warn]" not in done.stderr, done.stderr
    else:
        done = subprocess.run([binary, "--mode", "validate", "-c", str(config), "--log-level",
                               "warn"], capture_output=True, text=True, timeout=120, check=False)
        output = done.stdout + done.stderr
        assert done.returncode == 0 and "[warning]" not in output, output


@contextmanager
def _running(kind: str, echo: int, work: Path) -> Iterator[tuple[str, httpx.Client]]:
    binary = _require_binary(kind)
    project = _render(kind, work)
    ports = {"http": _free_port(), "https": _free_port(), "admin": _free_port(), "echo": echo}
    config = _for_this_host(kind, project, work, ports)
    command = ([binary, "-c", str(config), "-p", f"{work}/", "-g",
                f"daemon off; pid {work}/nginx.pid;"] if kind == "nginx" else
               [binary, "-c", str(config), "--disable-hot-restart", "--concurrency", "1",
                "--log-level", "warn"])
    log = (work / "gateway.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    context = ssl.create_default_context(cafile=str(project / "gateway" / "tls" / "cert.pem"))
    client = httpx.Client(base_url=f"https://127.0.0.1:{ports['https']}", verify=context,
                          timeout=20)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{ports['http']}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, (
            (work / "gateway.log").read_text(errors="replace"))
        time.sleep(0.1)
    try:
        yield kind, client
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=15)
        log.close()


@pytest.fixture(scope="module", params=KINDS)
def gateway(request: pytest.FixtureRequest, echo: int,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, httpx.Client]]:
    with _running(str(request.param), echo, tmp_path_factory.mktemp("gw")) as running:
        yield running


def test_routes_strip_the_prefix_and_carry_request_ids(gateway: tuple[str, httpx.Client]) -> None:
    _, client = gateway
    answer = client.get("/api/orders/orders/7?x=1", headers={"X-Forwarded-For": "6.6.6.6"})
    assert answer.status_code == 200, answer.text
    seen = answer.json()
    assert seen["path"] == "/orders/7?x=1"
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"  # replaced, not appended to
    assert seen["headers"]["x-forwarded-proto"] == "https"
    generated = seen["headers"]["x-request-id"]
    assert generated and answer.headers["x-request-id"] == generated
    kept = client.get("/api/stock/stocks", headers={"X-Request-Id": "abc-123"})
    assert kept.json()["path"] == "/stocks"
    assert kept.json()["headers"]["x-request-id"] == "abc-123"
    assert kept.headers["x-request-id"] == "abc-123"
    assert client.get("/api/sagas/place/42").json()["path"] == "/sagas/place/42"
    assert client.get("/healthz").text.strip() == "ok"  # the gateway answers it itself
    assert client.get("/elsewhere").status_code == 404
    assert client.get("/api/unknown/x").status_code == 404


def test_the_services_metrics_are_refused(gateway: tuple[str, httpx.Client]) -> None:
    _, client = gateway
    for path in ("/api/orders/metrics", "/api/sagas/metrics", "/metrics"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "path" not in answer.text, path  # never reached a service
    assert client.get("/api/orders/metrics-x").json()["path"] == "/metrics-x"


def test_bodies_over_the_limit_are_refused(gateway: tuple[str, httpx.Client]) -> None:
    _, client = gateway
    big = b"x" * (BODY_LIMIT_MB * 1048576 + 1)
    assert client.post("/api/orders/orders", content=big).status_code == 413


def test_idempotent_requests_are_retried_and_others_are_not(
        gateway: tuple[str, httpx.Client]) -> None:
    kind, client = gateway
    # The service closed the connection without answering: a GET is tried again, a POST
    # (which may have arrived) is not.
    # (The echo server is shared: each gateway kind uses paths of its own.)
    assert client.get(f"/api/orders/dropped-get-{kind}").status_code == 200
    assert client.post(f"/api/orders/dropped-post-{kind}", json={}).status_code in (502, 503)
    if kind == "envoy":  # envoy also retries an idempotent request the service refused with 503
        assert client.get("/api/orders/flaky-get").status_code == 200
        assert client.post("/api/orders/flaky-post", json={}).status_code == 503


@pytest.mark.parametrize("kind", KINDS)
def test_the_rate_limit_counts_each_client_address(kind: str, echo: int, tmp_path: Path) -> None:
    # A gateway of its own: the other tests' requests count against the same address.
    with _running(kind, echo, tmp_path) as (_, client):
        _limited(client)


def _limited(client: httpx.Client) -> None:
    codes = [client.get("/api/orders/orders", headers={"X-Forwarded-For": f"10.0.0.{i}"})
             .status_code for i in range(RATE * 2)]
    # A forged X-Forwarded-For does not earn a new allowance: the peer address is counted.
    assert 429 in codes, codes
    assert codes.count(200) <= RATE + 1, codes  # +1: a token may refill during the loop
