"""gRPC through the edge: the configs that carry it (nginx, envoy, haproxy; both gateways)
are accepted by the real binaries, route the gRPC package prefix over HTTP/2, and httpd
(which cannot) publishes the app's gRPC port on 127.0.0.1 only.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.render import render_project
from tests.helpers import mvc_spec
from tests.render import test_gateway_configs as gateways
from tests.render.test_proxy_configs import CONFIG_FILE, Rendered, _for_this_host, _require_binary

GRPC = ["rest", "grpc"]


def _check(kind: str, binary: str, config: Path, work: Path) -> None:
    if kind == "nginx":
        cmd = [binary, "-t", "-c", str(config), "-g", f"pid {work}/nginx.pid;"]
    elif kind == "haproxy":
        cmd = [binary, "-dW", "-c", "-f", str(config)]
    elif kind == "httpd":  # its ServerRoot is the one the proxy test's helper made in `work`
        cmd = [binary, "-t", "-d", str(work / "httpd-root"), "-f", str(config)]
    else:
        cmd = [binary, "--mode", "validate", "-c", str(config), "--log-level", "warn"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not any(m in output for m in ("[warn]", "[warning]", "[WARNING]", ":warn]")), output


def edge_for_this_host(kind: str, architecture: str, project: Path, work: Path) -> Path:
    """A copy of the mvc proxy's or scaled load balancer's config that this host's binary checks."""
    folder = "proxy" if architecture == "mvc" else "lb"
    config = project / folder / CONFIG_FILE[kind]
    text = config.read_text()
    copy = work / config.name
    if kind == "haproxy":  # no Docker DNS here: addresses keep haproxy -c free of warnings
        copy.write_text(re.sub(r"(server \S+) [a-z0-9-]+:(\d+)\b", r"\1 127.0.0.1:\2",
                               text.replace("/etc/archgen/tls/", f"{project / folder}/tls/")))
    elif kind == "nginx" and architecture == "scaled":  # the entrypoint writes the upstream files
        upstreams = work / "upstreams"
        done = subprocess.run(["sh", str(project / "lb/nginx-upstreams.sh"), "--once"], env={
            "PATH": "/usr/bin:/bin", "ARCHGEN_UPSTREAMS_FILE": str(upstreams / "app.conf")},
            capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        copy.write_text(text.replace("/etc/archgen/tls/", f"{project / folder}/tls/")
                        .replace("/etc/nginx/upstreams/", f"{upstreams}/"))
    else:
        if folder == "lb":  # the proxy test's helper reads the TLS files from proxy/
            (project / "proxy").symlink_to(project / "lb")
        copy = _for_this_host(Rendered(kind, project, config, 8080, 8443), work)
    return copy


def _proxy_spec(architecture: str, kind: str) -> dict[str, Any]:
    if architecture == "mvc":
        return mvc_spec(proxy={"kind": kind}, app={"api": GRPC})
    return {"name": "shop", "architecture": "scaled", "load_balancer": {"kind": kind},
            "app": {"replicas": 2, "api": GRPC}, "database": {"engine": "postgres", "replicas": 2},
            "cache": {"sentinel": False}}


@pytest.mark.parametrize(("architecture", "kind"), [
    ("mvc", "nginx"), ("mvc", "envoy"), ("mvc", "haproxy"),
    ("scaled", "nginx"), ("scaled", "envoy"), ("scaled", "haproxy")])
def test_the_edge_routes_grpc_and_its_binary_accepts_it(architecture: str, kind: str,
                                                         tmp_path: Path) -> None:
    binary = _require_binary(kind)
    project = tmp_path / "shop"
    render_project(_proxy_spec(architecture, kind), project)
    folder = "proxy" if architecture == "mvc" else "lb"
    config = project / folder / CONFIG_FILE[kind]
    text = config.read_text()
    if kind == "nginx":
        assert re.search(r"listen 8443 ssl http2 default_server;", text)
        upstream = "app_grpc" if architecture == "scaled" else "$archgen_grpc"
        assert "location /shop. {" in text and f"grpc_pass grpc://{upstream};" in text
        assert text.count("location /shop. {") == 1 and "location /grpc. {" in text
    elif kind == "haproxy":
        assert "use_backend grpc if { req.hdr(content-type) -m beg application/grpc }" in text
        assert re.search(r"server \S+ app(-\d)?:50051 proto h2 ", text)
    else:
        data = yaml.safe_load(text)
        (cluster,) = [c for c in data["static_resources"]["clusters"] if c["name"] == "grpc_shop"]
        options = cluster["typed_extension_protocol_options"][
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
        assert "http2_protocol_options" in options["explicit_http_config"]
        endpoints = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"]
        assert len(endpoints) == (1 if architecture == "mvc" else 2)
        assert "prefix: /shop." in text
    copy = edge_for_this_host(kind, architecture, project, tmp_path)
    if kind == "nginx" and architecture == "scaled":
        grpc_servers = (tmp_path / "upstreams" / "grpc.conf").read_text()
        assert grpc_servers.count(":50051 ") == 2 and ":8000 " not in grpc_servers, grpc_servers
    _check(kind, binary, copy, tmp_path)
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    published = [name for name, service in compose["services"].items() if service.get("ports")]
    assert published == [folder], "only the edge is published"


@pytest.mark.parametrize("kind", gateways.KINDS)
def test_the_gateway_routes_each_services_package_to_it(kind: str, tmp_path: Path) -> None:
    binary = _require_binary(kind)
    project = tmp_path / "market"
    render_project({
        "name": "market", "architecture": "microservices", "gateway": {"kind": kind},
        "services": [{"name": "orders", "api": GRPC}, {"name": "stock", "database": "mysql"},
                     {"name": "pay-ments", "database": "mongodb", "api": GRPC}],
    }, project)
    text = (project / "gateway" / CONFIG_FILE[kind]).read_text()
    for package, host in (("market.orders", "orders"), ("market.pay_ments", "pay-ments")):
        if kind == "nginx":
            assert f"location /{package}. {{\n            set $archgen_grpc {host}:50051;" in text
        else:
            assert f"prefix: /{package}." in text and f"cluster: grpc_{package.replace('.', '_')}" in text
    assert "market.stock" not in text
    copy = gateways._for_this_host(kind, project, tmp_path, None)
    _check(kind, binary, copy, tmp_path)
    for service in ("orders", "pay-ments"):
        proto = (project / "services" / service / "proto" / "app.proto").read_text()
        assert f"package market.{service.replace('-', '_')};" in proto


def test_httpd_publishes_the_grpc_port_on_loopback_only(tmp_path: Path) -> None:
    project = tmp_path / "shop"
    render_project(mvc_spec(proxy={"kind": "httpd"}, app={"api": GRPC}), project)
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    assert compose["services"]["app"]["ports"] == ["127.0.0.1:50051:50051"]
    assert "grpc" not in (project / "proxy" / "httpd.conf").read_text().lower()
    readme = (project / "README.md").read_text()
    assert "127.0.0.1:50051" in readme and "cannot proxy gRPC" in readme
