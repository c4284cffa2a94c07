"""`archgen deploy swarm`: plan with swarm_plan, then run the plan through the Docker SDK.

The engine the SDK reaches (DOCKER_HOST or the default socket) must be a swarm
manager. Everything found or made for a project carries the stack namespace label,
so removal takes exactly this project's objects and `docker stack` commands see them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from archgen.errors import EngineError
from archgen.export.swarm import NAMESPACE_LABEL, SPEC_HASH_LABEL, Stack, build_stack
from archgen.runtime.swarm_plan import (
    Action,
    Desired,
    Observed,
    ObservedService,
    desired_state,
    plan,
    removal,
    rollback,
)

WAIT_POLL = 1.0
_UPDATING = ("updating", "rollback_started", "paused", "rollback_paused")
Say = Callable[[str], None]


@dataclass(frozen=True)
class Task:
    service: str
    slot: int | None
    node: str
    desired: str
    state: str
    error: str
    image: str
    container: str

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "slot": self.slot, "node": self.node,
                "desired": self.desired, "state": self.state, "error": self.error,
                "image": self.image, "container": self.container}


@contextmanager
def _call(what: str) -> Iterator[None]:
    from archgen.runtime.engine import engine_call

    with engine_call(what):
        yield


class Swarm:
    """A swarm manager's API, for one project."""

    def __init__(self, api: Any, project: str) -> None:
        self.api = api
        self.project = project
        self._filter = {"label": f"{NAMESPACE_LABEL}={project}"}

    @classmethod
    def connect(cls, project: str) -> Swarm:
        from archgen.runtime.engine import Engine

        swarm = cls(Engine.connect().api, project)
        swarm.require_manager()
        return swarm

    def require_manager(self) -> None:
        with _call("read the engine's swarm state"):
            info = self.api.info().get("Swarm") or {}
        state = info.get("LocalNodeState", "inactive")
        if state != "active":
            raise EngineError(
                f"the Docker engine is not part of a swarm (swarm state: {state})",
                hint="make it a manager with `docker swarm init` (on a shared engine this changes "
                "its networking for everyone), join it to a swarm, or point DOCKER_HOST at a "
                "swarm manager")
        if not info.get("ControlAvailable"):
            raise EngineError("this engine is a swarm worker: services are managed on a manager",
                              hint="point DOCKER_HOST at a manager node")

    def has_image(self, image: str) -> bool:
        from docker.errors import ImageNotFound

        try:
            with _call(f"inspect the image {image}"):
                self.api.inspect_image(image)
        except (ImageNotFound, EngineError):
            return False
        return True

    def missing_images(self, images: list[str]) -> list[str]:
        return [image for image in images if not self.has_image(image)]

    def observe(self) -> Observed:
        with _call("list the project's swarm objects"):
            services = self.api.services(filters=self._filter)
            networks = self.api.networks(filters=self._filter)
            secrets = self.api.secrets(filters=self._filter)
            configs = self.api.configs(filters=self._filter)
        observed = Observed()
        for s in services:
            spec = s["Spec"]
            observed.services[spec["Name"]] = ObservedService(
                s["ID"], spec["Name"], int(s["Version"]["Index"]),
                (spec.get("Labels") or {}).get(SPEC_HASH_LABEL), "PreviousSpec" in s)
        observed.networks = {n["Name"] for n in networks}
        observed.secrets = {s["Spec"]["Name"] for s in secrets}
        observed.configs = {c["Spec"]["Name"] for c in configs}
        return observed

    def execute(self, actions: list[Action], desired: Desired | None, say: Say) -> None:
        by_name: dict[str, Any] = {}
        if desired is not None:
            items: list[Any] = [*desired.networks, *desired.secrets, *desired.configs,
                                *desired.services]
            by_name = {x.name: x for x in items}
        for action in actions:
            if action.verb == "keep":
                continue
            say(action.line())
            with _call(f"{action.verb} the {action.kind} {action.name}"):
                getattr(self, f"_{action.verb}_{action.kind}")(action.name, by_name.get(action.name))

    # Each `_<verb>_<kind>` takes the object's name and its desired form (or None).
    def _create_network(self, name: str, item: Any) -> None:
        body = item.body
        self.api.create_network(name, driver=body["driver"], attachable=body["attachable"],
                                internal=body["internal"], labels=body["labels"], scope="swarm",
                                check_duplicate=True)

    def _create_secret(self, name: str, item: Any) -> None:
        self.api.create_secret(name, item.body["data"].encode("utf-8"), labels=item.body["labels"])

    def _create_config(self, name: str, item: Any) -> None:
        self.api.create_config(name, item.body["data"].encode("utf-8"), labels=item.body["labels"])

    def _resolved(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The spec with secret and config names turned into the ids the API needs."""
        import copy

        spec = copy.deepcopy(spec)
        container = spec["TaskTemplate"]["ContainerSpec"]
        secrets = {s["Spec"]["Name"]: s["ID"] for s in self.api.secrets(filters=self._filter)}
        configs = {c["Spec"]["Name"]: c["ID"] for c in self.api.configs(filters=self._filter)}
        for ref in container.get("Secrets", []):
            ref["SecretID"] = secrets[ref["SecretName"]]
        for ref in container.get("Configs", []):
            ref["ConfigID"] = configs[ref["ConfigName"]]
        return spec

    def _create_service(self, name: str, item: Any) -> None:
        spec = self._resolved(item.spec)
        self.api.create_service(spec["TaskTemplate"], name=name, labels=spec["Labels"],
                                mode=spec["Mode"], update_config=spec["UpdateConfig"],
                                rollback_config=spec["RollbackConfig"],
                                endpoint_spec=spec["EndpointSpec"])

    def _update_service(self, name: str, item: Any) -> None:
        spec = self._resolved(item.spec)
        current = self.api.inspect_service(name)
        self.api.update_service(current["ID"], current["Version"]["Index"],
                                task_template=spec["TaskTemplate"], name=name,
                                labels=spec["Labels"], mode=spec["Mode"],
                                update_config=spec["UpdateConfig"],
                                rollback_config=spec["RollbackConfig"],
                                endpoint_spec=spec["EndpointSpec"], fetch_current_spec=False)

    def _rollback_service(self, name: str, item: Any) -> None:
        current = self.api.inspect_service(name)
        # The SDK's update_service has no rollback flag; the API's is a query parameter.
        url = self.api._url("/services/{0}/update", current["ID"])
        response = self.api._post_json(url, data=current["Spec"], params={
            "version": current["Version"]["Index"], "rollback": "previous"})
        self.api._result(response, json=True)

    def _remove_service(self, name: str, item: Any) -> None:
        self.api.remove_service(name)

    def _remove_config(self, name: str, item: Any) -> None:
        self._retry(lambda: self.api.remove_config(name))

    def _remove_secret(self, name: str, item: Any) -> None:
        self._retry(lambda: self.api.remove_secret(name))

    def _remove_network(self, name: str, item: Any) -> None:
        self._retry(lambda: self.api.remove_network(name))
        # A swarm network goes from the manager's list once the node has let go of it.
        deadline = time.monotonic() + 60
        while any(n["Name"] == name for n in self.api.networks(names=[name])):
            if time.monotonic() > deadline:
                break
            time.sleep(1)
            self._retry(lambda: self.api.remove_network(name), timeout=5)

    def _retry(self, call: Callable[[], Any], timeout: float = 90) -> None:
        """Removing what a task still holds fails until its container is gone: retry a while."""
        from docker.errors import APIError, NotFound

        deadline = time.monotonic() + timeout
        while True:
            try:
                call()
                return
            except NotFound:
                return
            except APIError as error:
                # A swarm network the manager has dropped can linger on the node under an
                # id the manager no longer knows: removing it answers 500 "… not found".
                if "not found" in str(error.explanation or error).lower():
                    return
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def remove_volumes(self, say: Say) -> None:
        with _call("list the project's volumes"):
            volumes = self.api.volumes(filters=self._filter).get("Volumes") or []
        for volume in volumes:
            say(f"remove   volume   {volume['Name']}")
            with _call(f"remove the volume {volume['Name']}"):
                self._retry(partial(self.api.remove_volume, volume["Name"]))

    def tasks(self) -> list[Task]:
        with _call("list the project's tasks"):
            services = {s["ID"]: s["Spec"]["Name"] for s in self.api.services(filters=self._filter)}
            nodes = {n["ID"]: n["Description"]["Hostname"] for n in self.api.nodes()}
            tasks = self.api.tasks(filters={"service": sorted(services.values())}) \
                if services else []
        found = [
            Task(services.get(t["ServiceID"], t["ServiceID"]), t.get("Slot"),
                 nodes.get(t.get("NodeID", ""), t.get("NodeID", "")), t["DesiredState"],
                 t["Status"]["State"], t["Status"].get("Err", ""),
                 t["Spec"]["ContainerSpec"]["Image"].split("@")[0],
                 ((t["Status"].get("ContainerStatus") or {}).get("ContainerID") or "")[:12])
            for t in tasks if t["ServiceID"] in services]
        return sorted(found, key=lambda t: (t.service, t.slot or 0, t.desired != "running"))

    def wait(self, desired_replicas: dict[str, int], timeout: float, say: Say) -> None:
        """Wait until every service runs its replicas and no update or rollback is under way.

        Running means healthy: swarm marks a task running only once its healthcheck passes.
        """
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            pending = self._pending(desired_replicas)
            if not pending:
                return
            text = "; ".join(pending)
            if text != last:
                say(f"waiting: {text}")
                last = text
            if time.monotonic() > deadline:
                errors = sorted({f"{t.service}: {t.error}" for t in self.tasks()
                                 if t.error and t.desired != "running"})[:8]
                raise EngineError(f"the stack did not converge within {timeout:.0f}s: {text}"
                                  + ("".join(f"\n  {e}" for e in errors)),
                                  hint="see `archgen status` and `docker service ps --no-trunc`")
            time.sleep(WAIT_POLL)

    def _pending(self, desired_replicas: dict[str, int]) -> list[str]:
        with _call("read the services"):
            services = {s["Spec"]["Name"]: s for s in self.api.services(filters=self._filter)}
        tasks = self.tasks()
        pending = []
        for name, replicas in sorted(desired_replicas.items()):
            service = services.get(name)
            if service is None:
                pending.append(f"{name} missing")
                continue
            update = (service.get("UpdateStatus") or {}).get("State")
            if update in _UPDATING:
                pending.append(f"{name} {update}")
                continue
            restart = service["Spec"]["TaskTemplate"].get("RestartPolicy", {}).get("Condition")
            mine = [t for t in tasks if t.service == name and t.desired != "shutdown"]
            done = [t for t in mine if t.state == "running"
                    or (restart == "on-failure" and t.state == "complete")]
            if restart == "on-failure" and any(t.state == "complete" for t in tasks
                                                if t.service == name):
                continue  # a one-shot job that has finished
            if len(done) < replicas or len(mine) > replicas:
                pending.append(f"{name} {len(done)}/{replicas}")
        return pending


def swarm_tasks(api: Any, project: str) -> list[Task]:
    """The project's swarm tasks, or none when the engine is not a swarm manager (`status`)."""
    with _call("read the engine's swarm state"):
        info = api.info().get("Swarm") or {}
    if info.get("LocalNodeState") != "active" or not info.get("ControlAvailable"):
        return []
    return Swarm(api, project).tasks()


def render_tasks(tasks: list[Task]) -> str:
    rows = [("SWARM TASK", "NODE", "DESIRED", "STATE", "IMAGE", "ERROR")]
    rows += [(f"{t.service}.{t.slot}", t.node, t.desired, t.state, t.image, t.error) for t in tasks]
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
                     for r in rows)


def load_stack(project_dir: Path, swarm: Swarm | None) -> Stack:
    from archgen.errors import ExportError
    from archgen.export import SPEC_FILE
    from archgen.export.report import Report
    from archgen.model import resolve
    from archgen.spec import load_spec

    spec_path = project_dir / SPEC_FILE
    if not spec_path.is_file():
        raise ExportError(f"{project_dir} has no {SPEC_FILE}, so it is not a rendered project",
                          hint="pass the project directory (written by `archgen new`)")
    architecture = resolve(load_spec(spec_path))
    return build_stack(architecture, project_dir, Report("swarm"))


def secret_values(stack: Stack, project_dir: Path) -> dict[str, str]:
    values = {}
    for key, source in stack.secrets.items():
        path = project_dir / source
        if path.is_file():
            values[key] = path.read_text(encoding="utf-8")
    return values


def deploy_plan(stack: Stack, project_dir: Path, *, replicas: list[str],
                images: list[str]) -> Desired:
    from archgen.runtime.compose import project_env
    from archgen.runtime.interpolate import Interpolator

    env = project_env(project_dir)
    interpolated = Interpolator(env).expand_tree(stack.document, "stack")
    assert isinstance(interpolated, dict)
    ready = Stack(stack.project, interpolated, stack.configs, stack.secrets, stack.builds)
    return desired_state(ready, secret_values(stack, project_dir),
                         replicas=replicas, images=images)


__all__ = ["Swarm", "Task", "deploy_plan", "load_stack", "plan", "removal", "rollback"]
