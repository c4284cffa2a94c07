"""`archgen check` end to end: a small mvc spec rendered, brought up, smoke-tested and removed."""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.catalog import CATALOG
from tests.e2e.conftest import require_images

pytestmark = pytest.mark.docker


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _left_on_engine(client: Any, project: str) -> dict[str, list[str]]:
    label = {"label": f"io.archgen.project={project}"}
    return {
        "containers": [c.name for c in client.containers.list(all=True, filters=label)],
        "networks": [n.name for n in client.networks.list(filters=label)],
        "volumes": [v.name for v in client.volumes.list(filters=label)],
        "images": [i.id for i in client.images.list(filters=label)],
    }


def test_check_runs_the_reference_stack_and_leaves_nothing_behind(tmp_path: Path, docker_client: Any) -> None:
    require_images(docker_client, [CATALOG[k].image for k in ("nginx", "postgres", "redis", "python",
                                                              "prometheus", "jaeger")])
    name = f"agup-check-{secrets.token_hex(3)}"
    spec = tmp_path / "small.yaml"
    spec.write_text(yaml.safe_dump({
        "name": name,
        "architecture": "mvc",
        "proxy": {"kind": "nginx", "http_port": _free_port(), "https_port": _free_port()},
        "database": {"engine": "postgres"},
        "cache": {"rate_limit": {"requests": 5, "window": "60s"}},
        "app": {"entities": [{"name": "product", "fields": {"title": "str", "price": "float"}}]},
        "observability": ["prometheus", "jaeger"],
        "ui_ports": {"prometheus": _free_port(), "jaeger": _free_port()},
    }))
    junit, report = tmp_path / "reports/check.xml", tmp_path / "reports/check.json"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "archgen", "check", str(spec),
             "--junit", str(junit), "--report", str(report)],
            capture_output=True, text=True, timeout=1200, check=False,
        )
        assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr[-6000:]}"
        suite = ET.parse(junit).getroot().find("testsuite")
        assert suite is not None
        assert (suite.get("failures"), suite.get("skipped")) == ("0", "0")
        names = [case.get("name") for case in suite.findall("testcase")]
        assert names[:2] == ["render", "up --wait"] and names[-1] == "down --volumes"
        assert {"/readyz through the edge", "CRUD /api/products",
                "cache serves a second GET /api/products/<id> from Redis",
                "rate limit: 429 after 5 requests per 60 s",
                "every Prometheus target up", "traces of app in Jaeger"} <= set(names)
        assert '"passed": true' in report.read_text()
        assert _left_on_engine(docker_client, f"{name}-check") == {
            "containers": [], "networks": [], "volumes": [], "images": []}
    finally:
        _remove_leftovers(docker_client, f"{name}-check")


def _remove_leftovers(client: Any, project: str) -> None:
    """If the run failed to clean up: remove what carries this test's own project label."""
    label = {"label": f"io.archgen.project={project}"}
    for container in client.containers.list(all=True, filters=label):
        container.remove(force=True)
    for network in client.networks.list(filters=label):
        network.remove()
    for volume in client.volumes.list(filters=label):
        volume.remove(force=True)
    for image in client.images.list(filters=label):
        client.images.remove(image.id, force=True)
