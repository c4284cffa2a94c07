"""End to end on a real swarm: the scaled stack deployed, scaled, rolled, rolled back, removed.

The swarm runs in an inner Docker engine (tests/e2e/dind.py), never on the host engine:
other stacks share the host engine, and switching it into swarm mode broke their
networks' DNS. The images the stack needs are copied from the host engine into the
inner one (`docker save` → `docker load`), since swarm never builds.

Traffic goes only to 127.0.0.1 ports published for the inner engine's edge; every loop
is bounded in count and time. Measurements print with the prefix `[swarm]` (-s).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e import dind
from tests.e2e.swarmkit import HTTPS, Swarm, Traffic, new_project, remove_built_images, say

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def swarm(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swarm]:
    name = f"swarm-e2e-{secrets.token_hex(3)}"
    project = new_project(docker_client, tmp_path_factory.mktemp("swarm"), name)
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
        remove_built_images(docker_client, name)


def test_deploy_scale_roll_and_roll_back_with_no_failed_get(swarm: Swarm) -> None:
    took = swarm.deploy()
    say(f"deployed and healthy in {took:.0f}s")
    assert len(swarm.tasks("app")) == 3
    seen = swarm.instances(3)
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
    files = sorted((swarm.project / "secrets").iterdir())
    values = [f.read_text().strip() for f in files]
    assert {f"{swarm.name}_{f.name}" for f in files} <= names, names
    assert values and all(values)
    for service in api.services(filters=label):
        text = str(service["Spec"])
        assert not any(v in text for v in values), service["Spec"]["Name"]
    # Mounted where compose mounts them, and what the images read through *_FILE.
    app = api.inspect_service(f"{swarm.name}_app")["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert "APP_DATABASE_PASSWORD_FILE=/run/secrets/postgres_app_password" in app["Env"]
    assert {s["File"]["Name"] for s in app["Secrets"]} >= {"postgres_app_password",
                                                           "redis_password"}
    assert "Command" not in app, "no entrypoint prologue"


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
