"""End to end on a real swarm: the scaled stack deployed, scaled, rolled, rolled back, removed.

The swarm runs in an inner Docker engine (tests/e2e/dind.py), never on the host engine:
other stacks share the host engine, and switching it into swarm mode broke their
networks' DNS. The images the stack needs are copied from the host engine into the
inner one (`docker save` → `docker load`), since swarm never builds.

Traffic goes only to 127.0.0.1 ports published for the inner engine's edge; every loop
is bounded in count and time. Measurements print with the prefix `[swarm]` (-s).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e import dind

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1500)]
HTTPS = 8443


def say(message: str) -> None:
    print(f"[swarm] {message}", flush=True)


@dataclass
class Swarm:
    name: str
    project: Path
    engine: dind.InnerEngine

    def archgen(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DOCKER_HOST": self.engine.host}
        result = subprocess.run([sys.executable, "-m", "archgen", *args], cwd=self.project,
                                capture_output=True, text=True, timeout=timeout, env=env,
                                check=False)
        if result.returncode != 0:
            raise AssertionError(f"archgen {' '.join(args)} exited {result.returncode}\n"
                                 f"stdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-5000:]}")
        return result

    def deploy(self, *args: str) -> float:
        started = time.monotonic()
        self.archgen("deploy", "swarm", "--wait", "--timeout", "300", *args)
        return time.monotonic() - started

    def tasks(self, service: str) -> list[dict[str, Any]]:
        import json

        rows = json.loads(self.archgen("status", "--json").stdout)
        return [r for r in rows if r.get("kind") == "swarm task"
                and r["service"] == f"{self.name}_{service}" and r["desired"] == "running"]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=f"https://127.0.0.1:{self.engine.ports[HTTPS]}",
                            verify=False, timeout=10)


@dataclass
class Traffic:
    """GETs of /whoami one after another in a thread until stopped (at most `limit`)."""

    swarm: Swarm
    limit: int = 20_000
    ok: int = 0
    failed: list[str] = field(default_factory=list)
    instances: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with self.swarm.client() as client:
            for _ in range(self.limit):
                if self._stop.is_set():
                    return
                try:
                    answer = client.get("/whoami")
                    if answer.status_code == 200:
                        self.ok += 1
                        self.instances.add(str(answer.json().get("instance")))
                    else:
                        self.failed.append(f"HTTP {answer.status_code}")
                except httpx.HTTPError as error:
                    self.failed.append(repr(error))
                time.sleep(0.02)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.fixture(scope="module")
def swarm(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swarm]:
    name = f"swarm-e2e-{secrets.token_hex(3)}"
    root = tmp_path_factory.mktemp("swarm")
    spec = {"name": name, "architecture": "scaled",
            "load_balancer": {"kind": "haproxy", "http_port": 8080, "https_port": HTTPS},
            "app": {"replicas": 3, "entities": [{"name": "product",
                                                 "fields": {"title": "str", "price": "float"}}]},
            "database": {"engine": "postgres", "replicas": 1},
            "cache": {"sentinel": False, "rate_limit": {"requests": 1_000_000, "window": "60s"}}}
    (root / "archgen.yaml").write_text(yaml.safe_dump(spec))
    project = root / "project"
    subprocess.run([sys.executable, "-m", "archgen", "new", str(root / "archgen.yaml"), "-o",
                    str(project)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "archgen", "build"], cwd=project, check=True,
                   capture_output=True)
    from archgen.runtime.swarm import load_stack

    images = load_stack(project, None).images
    started = time.monotonic()
    engine = dind.start(docker_client, name, [HTTPS])
    try:
        engine.client.swarm.init(advertise_addr="127.0.0.1",
                                 default_addr_pool=["10.232.0.0/16"], subnet_size=24)
        dind.copy_images(docker_client, engine.client, images)
        app = next(i for i in images if i.startswith(f"{name}-app"))
        engine.client.images.get(app).tag(app.rsplit(":", 1)[0], "v2")  # the "new release"
        say(f"inner engine up, swarm initialised, {len(images)} images loaded in "
            f"{time.monotonic() - started:.0f}s")
        yield Swarm(name, project, engine)
    finally:
        engine.remove()


def test_deploy_scale_roll_and_roll_back_with_no_failed_get(swarm: Swarm) -> None:
    took = swarm.deploy()
    say(f"deployed and healthy in {took:.0f}s")
    assert len(swarm.tasks("app")) == 3
    with swarm.client() as client:
        seen = {client.get("/whoami").json()["instance"] for _ in range(30)}
    say(f"3 replicas answer through the edge: {sorted(seen)}")
    assert len(seen) == 3

    took = swarm.deploy("--replicas", "app=5")
    assert len(swarm.tasks("app")) == 5
    say(f"scaled to 5 in {took:.0f}s")

    app = f"{swarm.name}-app"
    with Traffic(swarm) as traffic:
        took = swarm.deploy("--replicas", "app=5", "--image", f"app={app}:v2")
    say(f"rolling update to :v2 in {took:.0f}s: {traffic.ok} GETs ok, {len(traffic.failed)} failed")
    assert traffic.ok > 50 and not traffic.failed, traffic.failed[:5]
    assert {t["image"] for t in swarm.tasks("app")} == {f"{app}:v2"}

    with Traffic(swarm) as traffic:
        took = swarm.deploy("--rollback", "--service", "app")
    say(f"rollback in {took:.0f}s: {traffic.ok} GETs ok, {len(traffic.failed)} failed")
    assert traffic.ok > 50 and not traffic.failed, traffic.failed[:5]
    assert {t["image"] for t in swarm.tasks("app")} == {f"{app}:latest"}


def test_secrets_are_swarm_secrets_never_in_the_service_spec(swarm: Swarm) -> None:
    api = swarm.engine.client.api
    label = {"label": f"com.docker.stack.namespace={swarm.name}"}
    names = {s["Spec"]["Name"] for s in api.secrets(filters=label)}
    env = (swarm.project / ".env").read_text()
    values = [line.split("=", 1)[1] for line in env.splitlines()
              if "PASSWORD=" in line and not line.startswith("#")]
    assert any(n.endswith("password") for n in names), names
    assert values
    for service in api.services(filters=label):
        text = str(service["Spec"])
        assert not any(v and v in text for v in values), service["Spec"]["Name"]


def test_remove_leaves_nothing_of_the_project(swarm: Swarm) -> None:
    api = swarm.engine.client.api
    label = {"label": f"com.docker.stack.namespace={swarm.name}"}
    swarm.archgen("deploy", "swarm", "--remove")
    assert not api.services(filters=label)
    assert not api.networks(filters=label)
    assert not api.secrets(filters=label)
    assert not api.configs(filters=label)
    assert api.volumes(filters=label).get("Volumes"), "volumes survive without --volumes"
    swarm.archgen("deploy", "swarm", "--remove", "--volumes")
    assert not api.volumes(filters=label).get("Volumes")
