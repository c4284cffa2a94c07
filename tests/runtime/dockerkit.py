"""Docker test kit: the engine, a tiny busybox image built locally, throw-away compose projects.

The fixtures live in `tests.runtime.docker_fixtures` (load it with `pytest_plugins`).
Without an engine they skip with the reason, except under CI=true, where they fail:
CI must start one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from archgen.errors import DockerUnavailableError
from archgen.runtime.engine import Engine
from archgen.runtime.model import LABEL_PROJECT
from archgen.runtime.plan import ObservedContainer
from tests.helpers import unavailable

IMAGE = "archgen-test/busybox:1"
BUSYBOX = Path("/bin/busybox")
DOCKERFILE = """\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/sbin", "/usr/sbin", "/tmp", "/etc", "/var/www"]
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \\
 && echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd \\
 && echo 'root:x:0:' > /etc/group && echo 'nogroup:x:65534:' >> /etc/group \\
 && chmod 1777 /tmp
"""


def engine_or_skip() -> Engine:
    try:
        return Engine.connect()
    except DockerUnavailableError as error:
        unavailable(f"no Docker engine: {error.message}")


def _ensure_busybox() -> None:
    if BUSYBOX.is_file():
        return
    install = ["apt-get", "install", "-y", "-qq", "busybox-static"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, capture_output=True, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env)
        done = subprocess.run(install, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            pytest.fail(f"cannot install busybox-static for the test image:\n{done.stderr[-2000:]}")


def build_busybox_image(engine: Engine) -> str:
    """Build `archgen-test/busybox:1` (FROM scratch + static busybox) unless present."""
    if engine.image_id(IMAGE):
        return IMAGE
    _ensure_busybox()
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(BUSYBOX, Path(context) / "busybox")
        (Path(context) / "Dockerfile").write_text(DOCKERFILE)
        for chunk in engine.api.build(path=context, tag=IMAGE, rm=True, decode=True):
            if "error" in chunk:
                pytest.fail(f"building {IMAGE} failed: {chunk['error']}")
    return IMAGE


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ComposeProject:
    """A compose project in a tmp dir with a unique `agtest-` name."""

    root: Path
    name: str
    engine: Engine

    def write(self, services: dict[str, Any], *, env: str | None = None, **top: Any) -> None:
        compose = {"name": self.name, "services": services, **top}
        (self.root / "compose.yaml").write_text(yaml.safe_dump(compose, sort_keys=False))
        if env is not None:
            (self.root / ".env").write_text(env)

    def file(self, relative: str, text: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def containers(self) -> dict[str, ObservedContainer]:
        return {c.name: c for c in self.engine.containers(self.name)}

    def ids(self) -> dict[str, str]:
        return {name: c.id for name, c in self.containers().items()}

    def args(self, *extra: str) -> list[str]:
        """Command arguments pointing at this project (`-C DIR` after the command)."""
        return [extra[0], "-C", str(self.root), *extra[1:]]

    def wipe(self) -> None:
        """Last resort after `down`: force-remove anything still labelled with the project."""
        api = self.engine.api
        label = {"label": f"{LABEL_PROJECT}={self.name}"}
        for container in api.containers(all=True, filters=label):
            api.remove_container(container["Id"], force=True, v=True)
        for network in api.networks(filters=label):
            api.remove_network(network["Id"])
        for volume in api.volumes(filters=label).get("Volumes") or []:
            api.remove_volume(volume["Name"], force=True)


def service(command: str | list[str], **extra: Any) -> dict[str, Any]:
    """A busybox service running `command`, with an init so it stops at once."""
    return {"image": IMAGE, "command": command, "init": True, **extra}


def http_service(port: int = 8000, *, before: str = "", **extra: Any) -> dict[str, Any]:
    """A busybox httpd that serves `ok` and has a wget healthcheck (default 30 s interval)."""
    script = f"{before}mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p {port} -h /www"
    extra.setdefault(
        "healthcheck", {"test": ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}/"]}
    )
    return service(["sh", "-c", script], **extra)
