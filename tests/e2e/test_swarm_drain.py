"""A three-node swarm: a worker drained while traffic runs, its tasks move, no GET fails.

Three inner engines (tests/e2e/dind.py) on one test network of the host engine, joined
as a swarm with their container addresses as advertise addresses; overlay traffic
between them is VXLAN over that network. The databases and the cache are pinned to the
manager (their volumes are node-local), so only the app and edge images go to the
workers. Every engine publishes the edge port on 127.0.0.1; traffic goes to the one the
edge's task runs on, and the worker drained is one without it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.e2e import dind
from tests.e2e.swarmkit import HTTPS, Swarm, Traffic, new_project, remove_built_images, say

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]
NODES = 3


@dataclass
class Cluster:
    swarm: Swarm
    engines: list[dind.InnerEngine]

    def engine(self, hostname: str) -> dind.InnerEngine:
        return next(e for e in self.engines if e.container.name == hostname)


def _address(engine: dind.InnerEngine, network: str) -> str:
    engine.container.reload()
    return str(engine.container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"])


@pytest.fixture(scope="module")
def cluster(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    name = f"swarm-drain-{secrets.token_hex(3)}"
    project = new_project(docker_client, tmp_path_factory.mktemp("swarm-drain"), name)
    from archgen.runtime.swarm import load_stack

    stack = load_stack(project, None)
    # What may run on a worker: every service not pinned by a placement constraint.
    anywhere = sorted({s["image"] for s in stack.document["services"].values()
                       if not s["deploy"].get("placement", {}).get("constraints")})
    started = time.monotonic()
    network = docker_client.networks.create(f"{name}-net", driver="bridge",
                                            labels={"io.archgen.test": name})
    engines: list[dind.InnerEngine] = []
    try:
        for index in range(NODES):
            engines.append(dind.start(docker_client, f"{name}-{index}", [HTTPS], network.name))
        manager, workers = engines[0], engines[1:]
        address = _address(manager, network.name)
        manager.client.swarm.init(advertise_addr=address, listen_addr="0.0.0.0:2377",
                                  default_addr_pool=["10.232.0.0/16"], subnet_size=24)
        token = manager.client.swarm.attrs["JoinTokens"]["Worker"]
        for worker in workers:
            worker.client.swarm.join(remote_addrs=[f"{address}:2377"], join_token=token,
                                     advertise_addr=_address(worker, network.name),
                                     listen_addr="0.0.0.0:2377")
        dind.copy_images(docker_client, manager.client, stack.images)
        for worker in workers:
            dind.copy_images(docker_client, worker.client, anywhere)
        ready = [n for n in manager.client.nodes.list() if n.attrs["Status"]["State"] == "ready"]
        assert len(ready) == NODES, [n.attrs["Status"] for n in manager.client.nodes.list()]
        say(f"{NODES}-node swarm up ({address} manager), images loaded in "
            f"{time.monotonic() - started:.0f}s")
        yield Cluster(Swarm(name, project, manager), engines)
    finally:
        for engine in engines:
            try:
                engine.remove()
            except Exception as error:  # keep removing the others
                print(f"note: could not remove {engine.container.name}: {error}")
        network.remove()
        remove_built_images(docker_client, name)


def test_draining_a_worker_moves_its_tasks_with_no_failed_get(cluster: Cluster) -> None:
    swarm = cluster.swarm
    took = swarm.deploy()
    app = swarm.tasks("app")
    edge_node = swarm.tasks("lb")[0]["node"]
    swarm.edge = cluster.engine(edge_node)
    spread = sorted({t["node"] for t in app})
    say(f"deployed on {NODES} nodes in {took:.0f}s: app tasks on {spread}, edge on {edge_node}")
    assert len(app) == 3 and len(spread) >= 2, app
    manager = cluster.engines[0].container.name
    victim = next((t["node"] for t in app if t["node"] not in (manager, edge_node)), None)
    assert victim is not None, f"no worker without the edge runs an app task: {app}"
    moving = sorted(str(t["slot"]) for t in app if t["node"] == victim)
    assert len(swarm.instances(3)) == 3

    api = cluster.engines[0].client.api
    node = next(n for n in api.nodes() if n["Description"]["Hostname"] == victim)
    started = time.monotonic()
    with Traffic(swarm) as traffic:
        api.update_node(node["ID"], node["Version"]["Index"],
                        {**node["Spec"], "Availability": "drain"})
        moved: list[dict[str, Any]] = []
        for _ in range(240):  # at most ~120 s
            tasks = swarm.tasks("app")
            moved = [t for t in tasks if t["state"] == "running" and t["node"] != victim]
            if len(moved) == 3 and all(t["node"] != victim for t in tasks):
                break
            time.sleep(0.5)
        drained = time.monotonic() - started
        time.sleep(3)  # traffic through the edge once the moved tasks serve
    say(f"drained {victim} (app slot(s) {', '.join(moving)}) in {drained:.0f}s: tasks now on "
        f"{sorted({t['node'] for t in moved})}; {traffic.ok} GETs ok, {len(traffic.failed)} failed")
    assert len(moved) == 3, swarm.tasks("app")
    assert traffic.ok > 50 and not traffic.failed, traffic.failed[:5]
    assert len(swarm.instances(3)) == 3
    swarm.archgen("deploy", "swarm", "--remove", "--volumes")
