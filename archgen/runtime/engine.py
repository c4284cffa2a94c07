"""The one place that talks to Docker: a thin adapter over the Docker SDK's low-level `APIClient`.

The low-level client is used throughout: one `containers(all=True)` call lists
everything with its labels (the high-level client would inspect each container),
and it exposes what create-time needs (network aliases, healthcheck fields).
Every SDK failure leaves this module as a `DockerUnavailableError` or an
`EngineError` with a message for people, never as a traceback.
"""

from __future__ import annotations

import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from archgen.errors import DockerUnavailableError, EngineError
from archgen.runtime.container_spec import CreateArgs, create_args, file_archive
from archgen.runtime.model import (
    LABEL_CONFIG_HASH,
    LABEL_NETWORK,
    LABEL_NUMBER,
    LABEL_ONEOFF,
    LABEL_PROJECT,
    LABEL_SERVICE,
    LABEL_VOLUME,
    Healthcheck,
    NetworkSpec,
    Project,
    Service,
    VolumeSpec,
    project_labels,
    resource_hash,
)
from archgen.runtime.plan import EngineState, ObservedContainer, ObservedResource

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
START_INTERVAL_API = "1.44"
_EXIT = re.compile(r"Exited \((-?\d+)\)")
_PORT_IN_USE = re.compile(r":(\d+)(?: failed: port is already allocated|: bind: address already in use)")
BUILD_TAIL = 30


def engine_address() -> str:
    host = os.environ.get("DOCKER_HOST")
    return f"{host} (from DOCKER_HOST)" if host else f"{DEFAULT_SOCKET} (the default socket)"


def unavailable(reason: object) -> DockerUnavailableError:
    """The error for an engine that cannot be reached, naming where we looked and how to start it."""
    text = str(reason)
    detail = ""
    if "No such file" in text or "FileNotFoundError" in text:
        detail = ": no such socket"
    elif "Permission denied" in text or "PermissionError" in text:
        detail = ": permission denied"
    elif "Connection refused" in text or "ConnectionRefused" in text:
        detail = ": connection refused"
    hint = (
        "start the engine with `sudo systemctl start docker` (or `sudo dockerd &` where there is "
        "no systemd) and wait for its socket"
    )
    if os.environ.get("DOCKER_HOST"):
        hint += ", or unset DOCKER_HOST to use the default socket"
    else:
        hint += ", or set DOCKER_HOST to a running engine"
    if detail == ": permission denied":
        hint = "add your user to the `docker` group (then log in again), or run as root"
    return DockerUnavailableError(f"cannot reach the Docker engine at {engine_address()}{detail}", hint=hint)


@contextmanager
def engine_call(what: str) -> Iterator[None]:
    """Turn SDK and connection failures inside the block into archgen errors."""
    import requests
    from docker.errors import APIError, DockerException

    try:
        yield
    except APIError as error:
        raise EngineError(f"{what}: {error.explanation or error}") from None
    except requests.exceptions.ConnectionError as error:
        raise unavailable(error) from None
    except requests.exceptions.RequestException as error:
        raise EngineError(f"{what}: {error}") from None
    except DockerException as error:
        raise EngineError(f"{what}: {error}") from None


class Engine:
    """Operations on one Docker engine, in archgen's terms."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.version: str = str(api.api_version)

    @classmethod
    def connect(cls, *, timeout: int = 300, pool: int = 64) -> Engine:
        """Connect to the engine named by the environment (DOCKER_HOST or the default socket)."""
        import docker
        from docker.errors import DockerException

        try:
            client = docker.from_env(timeout=timeout, max_pool_size=pool)
        except DockerException as error:
            raise unavailable(error) from None
        return cls(client.api)

    def at_least(self, version: str) -> bool:
        def parts(v: str) -> tuple[int, ...]:
            return tuple(int(p) for p in v.split("."))

        return parts(self.version) >= parts(version)

    # ------------------------------------------------------------------ observe

    def observe(self, project: Project) -> EngineState:
        """Snapshot containers, networks and volumes in three list calls, and the project's images.

        Images are inspected one reference at a time rather than listed: listing every
        image on a busy engine costs ~0.1 s, a fifth of a no-op `up`; an inspect ~2 ms.
        """
        with engine_call("listing the engine's state"):
            containers = [_observed(c) for c in self.api.containers(all=True)]
            networks = {n["Name"]: _resource(n) for n in self.api.networks()}
            volumes = {v["Name"]: _resource(v) for v in (self.api.volumes().get("Volumes") or [])}
        images: dict[str, str] = {}
        for ref in dict.fromkeys(s.image for s in project.active_services()):
            image_id = self.image_id(ref)
            if image_id:
                images[ref] = image_id
        return EngineState(containers, networks, volumes, images)

    def image_id(self, ref: str, *, attempts: int = 3) -> str | None:
        """The image's ID, or None when the engine has no such image.

        Any other failure is retried, then raised: read as "no image", a busy engine's
        hiccup would give every container of that image a new config hash, and a no-op
        `up` would recreate them.
        """
        import time

        from docker.errors import NotFound

        for attempt in range(attempts):
            try:
                with engine_call(f"inspecting image {ref}"):
                    try:
                        return str(self.api.inspect_image(ref)["Id"])
                    except NotFound:  # an APIError too: caught before engine_call converts it
                        return None
            except EngineError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        return None

    def containers(self, project: str) -> list[ObservedContainer]:
        with engine_call("listing containers"):
            found = self.api.containers(all=True, filters={"label": f"{LABEL_PROJECT}={project}"})
        return [_observed(c) for c in found]

    def project_networks(self, project: str) -> list[str]:
        with engine_call("listing networks"):
            return [n["Name"] for n in self.api.networks(filters={"label": f"{LABEL_PROJECT}={project}"})]

    def project_volumes(self, project: str) -> list[str]:
        with engine_call("listing volumes"):
            found = self.api.volumes(filters={"label": f"{LABEL_PROJECT}={project}"}).get("Volumes") or []
        return [v["Name"] for v in found]

    def inspect(self, container_id: str) -> dict[str, Any]:
        with engine_call(f"inspecting container {container_id[:12]}"):
            return dict(self.api.inspect_container(container_id))

    # ------------------------------------------------------------------ images

    def build(
        self,
        service: Service,
        project: str,
        on_line: Callable[[str], None],
        *,
        no_cache: bool = False,
        pull: bool = False,
    ) -> str:
        """Build `service.image` from `service.build`; return the image ID."""
        assert service.build is not None
        spec = service.build
        tail: deque[str] = deque(maxlen=BUILD_TAIL)
        image_id: str | None = None
        error: str | None = None
        with engine_call(f"building image {service.image} for service {service.name!r}"):
            stream = self.api.build(
                path=spec.context,
                dockerfile=spec.dockerfile,
                tag=service.image,
                buildargs=spec.args or None,
                target=spec.target,
                labels=project_labels(project),
                rm=True,
                forcerm=True,
                nocache=no_cache,
                pull=pull,
                decode=True,
            )
            for chunk in stream:
                text = chunk.get("stream") or chunk.get("status") or ""
                for line in str(text).splitlines():
                    if line.strip():
                        tail.append(line.rstrip())
                        on_line(line.rstrip())
                if "error" in chunk:
                    error = str(chunk.get("error", "")).strip()
                    tail.append(error)
                aux = chunk.get("aux")
                if isinstance(aux, dict) and aux.get("ID"):
                    image_id = str(aux["ID"])
        if error is not None:
            raise EngineError(
                f"building image {service.image} for service {service.name!r} failed: {error}\n"
                f"last {len(tail)} lines of build output:\n" + "\n".join(f"  {line}" for line in tail)
            )
        return image_id or self.image_id(service.image) or ""

    def pull(
        self, ref: str, services: tuple[str, ...], on_line: Callable[[str], None], *, missing: bool = True
    ) -> None:
        """Pull `ref`; `missing` says the image is absent (the message then says so)."""
        names = ", ".join(repr(s) for s in services)
        what = (
            f"image {ref} (service {names}) is not present and could not be pulled"
            if missing
            else f"pulling image {ref} (service {names}) failed"
        )
        hint = "build or load the image locally (docker build / docker load), or fix the image name"
        try:
            with engine_call(what):
                for chunk in self.api.pull(ref, stream=True, decode=True):
                    if "error" in chunk:
                        raise EngineError(f"{what}: {chunk['error']}", hint=hint)
                    status = chunk.get("status")
                    if status:
                        on_line(f"{status} {chunk.get('progress', '')}".strip())
        except EngineError as error:
            raise EngineError(error.message, hint=hint) from None

    # ------------------------------------------------------- networks, volumes

    def create_network(self, spec: NetworkSpec, project: str) -> None:
        labels = {
            **spec.labels,
            **project_labels(project),
            LABEL_NETWORK: spec.key,
            LABEL_CONFIG_HASH: resource_hash(spec),
        }
        with engine_call(f"creating network {spec.name}"):
            self.api.create_network(
                spec.name,
                driver=spec.driver or "bridge",
                options=spec.driver_opts or None,
                ipam=spec.ipam or None,
                internal=spec.internal,
                labels=labels,
                attachable=spec.attachable or None,
                check_duplicate=True,
            )

    def create_volume(self, spec: VolumeSpec, project: str) -> None:
        labels = {
            **spec.labels,
            **project_labels(project),
            LABEL_VOLUME: spec.key,
            LABEL_CONFIG_HASH: resource_hash(spec),
        }
        with engine_call(f"creating volume {spec.name}"):
            self.api.create_volume(
                spec.name, driver=spec.driver or "local", driver_opts=spec.driver_opts or None, labels=labels
            )

    def remove_network(self, name: str) -> str | None:
        """Remove a network; return why not when the engine refuses (e.g. still in use)."""
        from docker.errors import APIError, NotFound

        try:
            self.api.remove_network(name)
        except NotFound:
            return None
        except APIError as error:
            return str(error.explanation or error)
        return None

    def remove_volume(self, name: str) -> str | None:
        from docker.errors import APIError, NotFound

        try:
            self.api.remove_volume(name)
        except NotFound:
            return None
        except APIError as error:
            return str(error.explanation or error)
        return None

    # --------------------------------------------------------------- containers

    def create_container(self, project: Project, service: Service, number: int, config_hash: str) -> str:
        """Create (not start) replica `number` of `service`; return its ID."""
        return self.create_from_args(project, service, create_args(project, service, number, config_hash))

    def create_from_args(self, project: Project, service: Service, args: CreateArgs) -> str:
        """Create (not start) a container from prepared `args` (also one-off containers); return its ID."""
        api = self.api
        with engine_call(f"creating container {args.name}"):
            host_config = api.create_host_config(**args.host)
            networking = None
            if args.networks:
                first, endpoint = args.networks[0]
                networking = api.create_networking_config({first: api.create_endpoint_config(**endpoint)})
            config = api.create_container_config(
                **args.config, host_config=host_config, networking_config=networking
            )
            health = self.healthcheck_config(service.healthcheck)
            if health is not None:
                config["Healthcheck"] = health
            container_id = str(
                api.create_container_from_config(config, name=args.name, platform=args.platform)["Id"]
            )
            # API < 1.44 attaches one network at create time; connect the rest before start.
            for net, endpoint in args.networks[1:]:
                api.connect_container_to_network(container_id, net, **endpoint)
            if args.copies:
                # Before start, so the process finds its secrets and configs from its first instruction.
                api.put_archive(container_id, "/", file_archive(project, args.copies))
        return container_id

    def healthcheck_config(self, hc: Healthcheck | None) -> dict[str, Any] | None:
        if hc is None:
            return None
        config: dict[str, Any] = {}
        if hc.test is not None:
            config["Test"] = list(hc.test)
        for key, value in (
            ("Interval", hc.interval),
            ("Timeout", hc.timeout),
            ("StartPeriod", hc.start_period),
        ):
            if value is not None:
                config[key] = int(value * 1e9)
        if hc.retries is not None:
            config["Retries"] = hc.retries
        if hc.start_interval is not None and self.at_least(START_INTERVAL_API):
            config["StartInterval"] = int(hc.start_interval * 1e9)
        return config or None

    def start(self, container_id: str, service: str, name: str) -> None:
        """Start a container; a published port already in use becomes a precise message."""
        from docker.errors import APIError

        with engine_call(f"starting container {name}"):
            try:
                self.api.start(container_id)
            except APIError as error:
                match = _PORT_IN_USE.search(str(error.explanation or error))
                if match is None:
                    raise
                raise self._port_error(int(match.group(1)), service, name, container_id) from None

    def _port_error(self, port: int, service: str, name: str, container_id: str) -> EngineError:
        holder = None
        try:
            for entry in self.api.containers():
                if entry["Id"] == container_id:
                    continue
                if any(p.get("PublicPort") == port for p in entry.get("Ports") or []):
                    holder = (entry.get("Names") or ["/?"])[0].lstrip("/")
                    break
        except Exception:
            holder = None
        held = f"held by container {holder!r}" if holder else "held by another process on this machine"
        hint = "stop whatever holds the port, or change the published port in compose.yaml"
        ui_key = self._ui_port_key(container_id)
        if ui_key:  # a local UI on its default port: another project's UI is the usual holder
            hint = f"set {ui_key} in archgen.yaml to a free port and run `archgen update`, " \
                   "or stop whatever holds the port"
        return EngineError(
            f"port {port} is already allocated: service {service!r} (container {name}) "
            f"cannot publish it; {held}",
            hint=hint,
        )

    def _ui_port_key(self, container_id: str) -> str:
        """The spec key of the port of the UI `container_id` serves ('' when it is no UI)."""
        from archgen.model.uis import UI_KEY_LABEL

        try:
            labels = self.api.inspect_container(container_id)["Config"]["Labels"] or {}
        except Exception:  # only for a better hint
            return ""
        return str(labels.get(UI_KEY_LABEL) or "")

    def stop(self, container_id: str, timeout: float | None) -> None:
        from docker.errors import NotFound

        with engine_call(f"stopping container {container_id[:12]}"):
            try:
                if timeout is None:
                    self.api.stop(container_id)
                else:
                    self.api.stop(container_id, timeout=math.ceil(timeout))
            except NotFound:  # already gone: caught before engine_call turns it into an error
                return

    def restart(self, container_id: str, timeout: float | None) -> None:
        """Stop (waiting `timeout` seconds, else the engine's default) and start a container again."""
        with engine_call(f"restarting container {container_id[:12]}"):
            if timeout is None:
                self.api.restart(container_id)
            else:
                self.api.restart(container_id, timeout=math.ceil(timeout))

    def remove(self, container_id: str) -> None:
        from docker.errors import NotFound

        with engine_call(f"removing container {container_id[:12]}"):
            try:
                self.api.remove_container(container_id, v=True, force=True)
            except NotFound:  # already gone: caught before engine_call turns it into an error
                return

    def exec_probe(self, container_id: str, command: list[str]) -> tuple[int, str]:
        """Run `command` in the container (as its healthcheck would); return exit code and output."""
        from docker.errors import APIError

        try:
            exec_id = self.api.exec_create(container_id, command, stdout=True, stderr=True)["Id"]
            output = self.api.exec_start(exec_id)
            code = self.api.exec_inspect(exec_id).get("ExitCode")
        except APIError as error:
            return -1, str(error.explanation or error)
        except Exception as error:
            return -1, str(error)
        text = output.decode(errors="replace") if isinstance(output, bytes) else str(output)
        return (code if isinstance(code, int) else -1), text

    def log_tail(self, container_id: str, lines: int = 20) -> list[str]:
        try:
            raw = self.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except Exception:
            return []
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        return text.splitlines()[-lines:]

    def log_text(self, container_id: str, *, tail: int | str, since: float | None) -> str:
        """A container's past output, each line prefixed with the engine's RFC 3339 timestamp."""
        with engine_call(f"reading logs of {container_id[:12]}"):
            raw = self.api.logs(
                container_id, stdout=True, stderr=True, timestamps=True, tail=tail, since=since
            )
        return raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)

    def log_stream(self, container_id: str, *, tail: int | str, since: float | None) -> Iterator[bytes]:
        """Follow a container's output until it stops; chunks are not aligned to lines."""
        with engine_call(f"reading logs of {container_id[:12]}"):
            stream = self.api.logs(
                container_id, stdout=True, stderr=True, stream=True, follow=True, tail=tail, since=since
            )
        yield from stream


def _observed(entry: dict[str, Any]) -> ObservedContainer:
    labels = entry.get("Labels") or {}
    status = str(entry.get("Status") or "")
    exit_match = _EXIT.search(status)
    health = None
    if "(healthy)" in status:
        health = "healthy"
    elif "(unhealthy)" in status:
        health = "unhealthy"
    elif "health: starting" in status:
        health = "starting"
    number_text = labels.get(LABEL_NUMBER, "")
    return ObservedContainer(
        id=str(entry["Id"]),
        name=(entry.get("Names") or ["/"])[0].lstrip("/"),
        state=str(entry.get("State") or ""),
        project=labels.get(LABEL_PROJECT),
        service=labels.get(LABEL_SERVICE),
        number=int(number_text) if number_text.isdigit() else None,
        config_hash=labels.get(LABEL_CONFIG_HASH),
        oneoff=labels.get(LABEL_ONEOFF, "False") == "True",
        image_id=str(entry.get("ImageID") or ""),
        exit_code=int(exit_match.group(1)) if exit_match else None,
        health=health,
    )


def _resource(entry: dict[str, Any]) -> ObservedResource:
    labels = entry.get("Labels") or {}
    return ObservedResource(
        name=str(entry["Name"]), project=labels.get(LABEL_PROJECT), config_hash=labels.get(LABEL_CONFIG_HASH)
    )
