"""An inner Docker engine in a container, for tests that must not touch the host engine's mode.

The host's kernel refuses `--privileged` (its capability bounding set lacks
CAP_SYS_RESOURCE), so the container gets every other capability, no seccomp or
AppArmor profile, every device and the host's cgroup hierarchy (v1) instead; its
engine keeps its images in a volume of its own (overlay2 needs a non-overlay backing).
The image is built once from Debian's docker.io and rebuilt only when its recipe changes.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECIPE = Path(__file__).parent / "dind"
IMAGE = "archgen-test/dind:20.10"
BASE = "archgen-standin/debian:bookworm"
HASH_LABEL = "io.archgen.standin.hash"
CAPS = [
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
    "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
    "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
    "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE",
    "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
    "BLOCK_SUSPEND", "AUDIT_READ",
]


def ensure_image(client: Any) -> None:
    """Build the image unless one from the same recipe and base is there."""
    import docker

    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(RECIPE.iterdir()))).hexdigest()
    wanted = f"{digest[:16]}-{client.images.get(BASE).id[7:19]}"
    try:
        if client.images.get(IMAGE).labels.get(HASH_LABEL) == wanted:
            return
    except docker.errors.ImageNotFound:
        pass
    # The classic builder, as scripts/standin-images: BuildKit would need buildx.
    subprocess.run(["docker", "build", "-q", "--label", f"{HASH_LABEL}={wanted}", "-t", IMAGE,
                    str(RECIPE)], check=True, capture_output=True,
                   env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"})


@dataclass
class InnerEngine:
    container: Any
    volume: Any
    host: str  # DOCKER_HOST for it
    ports: dict[int, int]  # inner published port -> 127.0.0.1 port on the host
    client: Any

    def remove(self) -> None:
        try:
            self.container.remove(force=True, v=True)
        finally:
            self.volume.remove(force=True)


def start(client: Any, name: str, publish: list[int], network: str | None = None) -> InnerEngine:
    import docker

    ensure_image(client)
    volume = client.volumes.create(f"{name}-data", labels={"io.archgen.test": name})
    publish_all = [2375, *publish]
    api = client.api
    host_config = api.create_host_config(
        cap_add=CAPS, port_bindings={p: ("127.0.0.1", None) for p in publish_all},
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        device_cgroup_rules=["a *:* rwm"], network_mode=network,
        binds={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"},
               volume.name: {"bind": "/var/lib/docker", "mode": "rw"}})
    # `--security-opt systempaths=unconfined` of the CLI (no SDK option): dockerd writes
    # sysctls under /proc/sys, which a container otherwise sees read-only.
    host_config["MaskedPaths"] = []
    host_config["ReadonlyPaths"] = []
    created = api.create_container(IMAGE, name=name, hostname=name, host_config=host_config,
                                   ports=publish_all, labels={"io.archgen.test": name})
    container = client.containers.get(created["Id"])
    container.start()
    container.reload()
    bound = {int(k.split("/")[0]): int(v[0]["HostPort"])
             for k, v in container.attrs["NetworkSettings"]["Ports"].items() if v}
    host = f"tcp://127.0.0.1:{bound[2375]}"
    deadline = time.monotonic() + 60
    while True:
        try:
            inner = docker.DockerClient(base_url=host, timeout=300)
            inner.ping()
            break
        except Exception as error:  # the engine is still starting
            if time.monotonic() > deadline:
                logs = container.logs(tail=30).decode(errors="replace")
                container.remove(force=True, v=True)
                volume.remove(force=True)
                raise RuntimeError(f"the inner engine did not answer within 60 s:\n{logs}") from error
            time.sleep(0.5)
    return InnerEngine(container, volume, host, {p: bound[p] for p in publish}, inner)


def copy_images(host: Any, inner: Any, images: list[str]) -> None:
    """`docker save` on the host engine → `docker load` into the inner one, streamed."""
    for image in images:
        inner.api.load_image(host.images.get(image).save(named=True))
