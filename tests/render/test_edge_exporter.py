"""The edge exporter (`<edge>/edge_exporter.py`): nginx's and httpd's status pages as Prometheus metrics.

The rendered script is lint- and type-clean; imported, it turns canned `stub_status` and
`server-status?auto` pages into the well-known exporters' metrics; run as a real process,
it serves them, says `<prefix>_up 0` when the page is gone and stops on SIGTERM; and in
front of the real nginx and httpd binaries running the rendered config, the counters grow
with requests through HTTPS while the status page itself is reachable only on its own
listener, from the project's (private) addresses.
"""

from __future__ import annotations

import importlib.util
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from archgen.model.observability import STATUS_PORT
from archgen.render import render_project
from tests.render.test_proxy_configs import (
    Rendered,
    Running,
    _for_this_host,
    _free_port,
    _require_binary,
    _sub,
    running_binary,
)

KINDS = ("nginx", "httpd")
CONFIG_FILE = {"nginx": "nginx.conf", "httpd": "httpd.conf"}
PREFIX = {"nginx": "nginx", "httpd": "apache"}
# nginx ends three of the lines with a space.
STUB_STATUS = ("Active connections: 3 \n"
               "server accepts handled requests\n"
               " 16630948 16630947 31070465 \n"
               "Reading: 1 Writing: 2 Waiting: 0 \n")
SERVER_STATUS = """localhost
ServerVersion: Apache/2.4.62 (Unix)
ServerMPM: event
ServerUptimeSeconds: 4242
Load1: 0.10
Total Accesses: 1234
Total kBytes: 567
Total Duration: 890
CPULoad: .000810
Uptime: 4242
BusyWorkers: 2
GracefulWorkers: 0
IdleWorkers: 73
Processes: 3
ConnsTotal: 4
ConnsAsyncWriting: 1
ConnsAsyncKeepAlive: 2
ConnsAsyncClosing: 0
Scoreboard: __WK_R____..............
TLSSessionCacheStatus
CacheType: SHMCB
"""
CANNED = {"nginx": ("/stub_status", STUB_STATUS), "httpd": ("/server-status", SERVER_STATUS)}


@pytest.fixture(scope="module")
def projects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rendered]:
    root = tmp_path_factory.mktemp("edge-exporter")
    found = {}
    for kind in KINDS:
        http_port, https_port = _free_port(), _free_port()
        project = root / kind
        render_project({"name": "shop", "architecture": "mvc", "database": {"engine": "postgres"},
                        "proxy": {"kind": kind, "http_port": http_port, "https_port": https_port},
                        "observability": ["prometheus"]}, project)
        found[kind] = Rendered(kind, project, project / "proxy" / CONFIG_FILE[kind],
                               http_port, https_port)
    return found


def _script(project: Rendered) -> Path:
    return project.project / "proxy" / "edge_exporter.py"


def _module(project: Rendered) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"edge_exporter_{project.kind}",
                                                  _script(project))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _samples(text: str) -> dict[str, float]:
    """`name{labels}` -> value, from Prometheus' text format (comments checked, then skipped)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"# (HELP|TYPE) \w+ ", line), line
            continue
        series, value = line.rsplit(" ", 1)
        found[series] = float(value)
    return found


@pytest.mark.parametrize("kind", KINDS)
def test_the_rendered_script_is_lint_and_type_clean(projects: dict[str, Rendered],
                                                    kind: str) -> None:
    script = _script(projects[kind])
    text = script.read_text()
    assert "{{" not in text and "{%" not in text
    assert f'STATUS_URL = "http://proxy:{STATUS_PORT}{CANNED[kind][0]}' in text
    # Standard library only: it runs on the plain Python image.
    imported = set(re.findall(r"^(?:from|import) (\w+)", text, re.M))
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", "--line-length",
                           "110", "--select", "E,F,W,I,B,UP,SIM,RUF,S,N,A", str(script)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental",
                           str(script)], capture_output=True, text=True, timeout=300, check=False)
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


def test_stub_status_becomes_the_nginx_exporters_metrics(projects: dict[str, Rendered]) -> None:
    module = _module(projects["nginx"])
    text = module.exposition(module.nginx_metrics(STUB_STATUS))
    assert _samples(text) == {
        "nginx_connections_active": 3, "nginx_connections_reading": 1,
        "nginx_connections_writing": 2, "nginx_connections_waiting": 0,
        "nginx_connections_accepted": 16630948, "nginx_connections_handled": 16630947,
        "nginx_http_requests_total": 31070465}
    assert "nginx_http_requests_total 31070465\n" in text  # every digit, no exponent
    assert "# TYPE nginx_http_requests_total counter" in text
    assert "# TYPE nginx_connections_active gauge" in text
    with pytest.raises(ValueError):
        module.nginx_metrics("<html>not a status page</html>\n\n\n\n")


def test_server_status_becomes_the_apache_exporters_metrics(projects: dict[str, Rendered]) -> None:
    module = _module(projects["httpd"])
    samples = _samples(module.exposition(module.apache_metrics(SERVER_STATUS)))
    assert samples["apache_accesses_total"] == 1234
    assert samples["apache_sent_kilobytes_total"] == 567
    assert samples["apache_uptime_seconds_total"] == 4242
    assert samples["apache_cpuload"] == pytest.approx(0.00081)
    assert samples['apache_workers{state="busy"}'] == 2
    assert samples['apache_workers{state="idle"}'] == 73
    assert samples['apache_connections{state="total"}'] == 4
    assert samples['apache_connections{state="keepalive"}'] == 2
    # Scoreboard "__WK_R____..............": 7 idle, 1 reply, 1 keepalive, 1 read, 14 open.
    assert samples['apache_scoreboard{state="idle"}'] == 7
    assert samples['apache_scoreboard{state="reply"}'] == 1
    assert samples['apache_scoreboard{state="keepalive"}'] == 1
    assert samples['apache_scoreboard{state="read"}'] == 1
    assert samples['apache_scoreboard{state="open_slot"}'] == 14
    with pytest.raises(ValueError):
        module.apache_metrics("Total Accesses: 1\n")  # no scoreboard: not ?auto's page


class _Canned(BaseHTTPRequestHandler):
    """Answers the status page's path with a canned page, anything else 404."""

    page: tuple[str, str] = ("/", "")

    def do_GET(self) -> None:
        path, body = self.page
        status = 200 if self.path.split("?", 1)[0] == path else 404
        data = body.encode() if status == 200 else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _exporter(script: Path, kind: str, status_url: str) -> Iterator[str]:
    """The rendered script as a real process, until the block ends; yields its base URL."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(script), "--kind", kind, "--status-url",
                                status_url, "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.communicate()[0]
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)
        yield base
        # SIGTERM (what a pod's PID 1 gets) ends it at once, cleanly.
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


@pytest.mark.parametrize("kind", KINDS)
def test_the_exporter_process_serves_the_page_and_says_when_it_is_gone(
        projects: dict[str, Rendered], kind: str) -> None:
    handler = type("Handler", (_Canned,), {"page": CANNED[kind]})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}{CANNED[kind][0]}"
    prefix = PREFIX[kind]
    try:
        with _exporter(_script(projects[kind]), kind, url) as base:
            answer = httpx.get(f"{base}/metrics", timeout=10)
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
            samples = _samples(answer.text)
            assert samples[f"{prefix}_up"] == 1
            counter = "nginx_http_requests_total" if kind == "nginx" else "apache_accesses_total"
            assert samples[counter] == (31070465 if kind == "nginx" else 1234)
            assert httpx.get(f"{base}/other", timeout=10).status_code == 404
            server.shutdown()
            server.server_close()
            gone = _samples(httpx.get(f"{base}/metrics", timeout=10).text)
            assert gone == {f"{prefix}_up": 0}
    finally:
        server.shutdown()
        server.server_close()


# -- in front of the real binaries ------------------------------------------------------------


@contextmanager
def _edge(r: Rendered, work: Path, upstream: int, status_port: int) -> Iterator[Running]:
    """The real nginx/httpd on the rendered config, its status listener on `status_port`."""
    binary = _require_binary(r.kind)
    config = _for_this_host(r, work, run={"upstream": upstream})
    text = config.read_text()
    if r.kind == "nginx":
        text = _sub(rf"^(\s*listen) {STATUS_PORT};", rf"\1 127.0.0.1:{status_port};", text)
    else:
        text = _sub(rf"^Listen {STATUS_PORT}$", f"Listen 127.0.0.1:{status_port}", text)
        text = _sub(rf"<VirtualHost \*:{STATUS_PORT}>", f"<VirtualHost *:{status_port}>", text)
    config.write_text(text)
    running = Running(r.kind, r.http_port, r.https_port, r.tls_dir, work / "edge.log")
    with running_binary(running, binary, config, work):
        yield running


class _App(BaseHTTPRequestHandler):
    """The app: 200 with the path it was asked for."""

    def do_GET(self) -> None:
        data = f"app saw {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _from(source: str, url: str) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10) as client:
        return client.get(url)


@pytest.mark.parametrize("kind", KINDS)
def test_the_real_edges_counters_grow_and_its_status_page_stays_internal(
        projects: dict[str, Rendered], kind: str, tmp_path: Path) -> None:
    app = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    status_port = _free_port()
    path = CANNED[kind][0]
    counter = "nginx_http_requests_total" if kind == "nginx" else "apache_accesses_total"
    try:
        with _edge(projects[kind], tmp_path, int(app.server_address[1]), status_port) as edge, \
                _exporter(_script(projects[kind]), kind,
                          f"http://127.0.0.1:{status_port}{path}"
                          f"{'?auto' if kind == 'httpd' else ''}") as exporter:
            before = _samples(httpx.get(f"{exporter}/metrics", timeout=10).text)
            assert before[f"{PREFIX[kind]}_up"] == 1
            with edge.client() as client:
                for _ in range(5):
                    assert client.get(f"{edge.base}/api/items").status_code == 200
                # Through the public listener the status path is the app's like any other.
                public = client.get(f"{edge.base}{path}")
                assert public.text == f"app saw {path}", public.text
            after = _samples(httpx.get(f"{exporter}/metrics", timeout=10).text)
            assert after[counter] >= before[counter] + 5, (before, after)
            # The status listener answers the project's addresses only: 127.0.0.2 is not one.
            assert _from("127.0.0.1", f"http://127.0.0.1:{status_port}{path}").status_code == 200
            refused = _from("127.0.0.2", f"http://127.0.0.1:{status_port}{path}")
            assert refused.status_code == 403, refused.text
    finally:
        app.shutdown()
        app.server_close()

