"""The swarm e2e's shared pieces: a project on an inner engine, archgen against it, traffic.

Traffic goes only to 127.0.0.1 ports published for an inner engine's edge; every loop
is bounded in count and time. Measurements print with the prefix `[swarm]` (-s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.e2e import dind

HTTPS = 8443


def say(message: str) -> None:
    print(f"[swarm] {message}", flush=True)


@dataclass
class Swarm:
    name: str
    project: Path
    engine: dind.InnerEngine  # the manager archgen talks to
    edge: dind.InnerEngine | None = None  # the node the edge's task runs on, when another

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
        rows = json.loads(self.archgen("status", "--json").stdout)
        return [r for r in rows if r.get("kind") == "swarm task"
                and r["service"] == f"{self.name}_{service}" and r["desired"] == "running"]

    def instances(self, wanted: int, seconds: float = 30) -> set[str]:
        """The replicas answering /whoami through the edge, polled until `wanted` have (bounded).

        HAProxy learns new tasks from DNS and admits each after two passed checks, a few
        seconds after swarm reports it healthy: right after a first deploy it answers 503.
        """
        seen: set[str] = set()
        deadline = time.monotonic() + seconds
        with self.client() as client:
            for _ in range(1000):
                answer = client.get("/whoami")
                if answer.status_code == 200:  # 503 until HAProxy admits a first task
                    seen.add(str(answer.json()["instance"]))
                if len(seen) >= wanted or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        return seen

    def client(self) -> httpx.Client:
        edge = self.edge or self.engine
        return httpx.Client(base_url=f"https://127.0.0.1:{edge.ports[HTTPS]}",
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




def new_project(client: Any, root: Path, name: str, replicas: int = 3) -> Path:
    """The scaled blueprint (HAProxy, PostgreSQL, Redis) rendered and its images built on the host."""
    from archgen.catalog import CATALOG
    from tests.e2e.conftest import require_images

    require_images(client, [dind.BASE, *(CATALOG[k].image
                                         for k in ("haproxy", "postgres", "redis", "python"))])
    spec = {"name": name, "architecture": "scaled",
            "load_balancer": {"kind": "haproxy", "http_port": 8080, "https_port": HTTPS},
            "app": {"replicas": replicas, "entities": [{"name": "product",
                                                        "fields": {"title": "str", "price": "float"}}]},
            "database": {"engine": "postgres", "replicas": 1},
            "cache": {"sentinel": False, "rate_limit": {"requests": 1_000_000, "window": "60s"}}}
    (root / "archgen.yaml").write_text(yaml.safe_dump(spec))
    project = root / "project"
    subprocess.run([sys.executable, "-m", "archgen", "new", str(root / "archgen.yaml"), "-o",
                    str(project)], check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "archgen", "build"], cwd=project, check=True,
                   capture_output=True)
    return project


def remove_built_images(client: Any, name: str) -> None:
    """The images `archgen build` made on the host for this project (conftest keeps only e2e-*)."""
    for image in client.images.list(filters={"label": f"io.archgen.project={name}"}):
        try:
            client.images.remove(image.id, force=True)
        except Exception as error:  # cleanup only
            print(f"note: could not remove {image.tags}: {error}")
