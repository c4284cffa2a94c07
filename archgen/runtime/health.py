"""Waiting for containers to be running, healthy or completed, fast.

How "healthy" is reached quickly. The engine runs a container's healthcheck
first after one full `interval` (30 s by default) unless `start_interval` is
set, and `start_interval` needs Docker API 1.44; the engines archgen targets
(Docker 20.10, API 1.41) ignore it. Waiting for the engine alone would therefore
sit idle for up to one interval per level of a `service_healthy` chain.

So while archgen waits, it runs the container's own healthcheck command itself,
through the exec API, at short intervals (every 0.05 s for the first 2 s, 0.25 s
to 5 s, then 0.5 s, then 1 s, one probe at a time): the very command the engine would run
(`CMD` as an argv, `CMD-SHELL` through `/bin/sh -c`), as the container's user,
with its environment. The first probe that exits 0 counts as healthy for
`depends_on: service_healthy` and for `up --wait`, exactly as one passing engine
check would (the engine also marks a container healthy after one success).

The engine's own state still rules in the other direction: a container the
engine reports `unhealthy`, or that exits, fails the wait at once, and an
engine report of `healthy` ends it. The container's healthcheck configuration is
never altered, so `archgen status` (and `docker ps`) show the engine's real
health state, which may still read `starting` for a moment after `up --wait`
has returned, until the engine's own first check runs.

Other approaches were weighed: creating containers with a short `interval`
during start-up would change the container's configuration (and so its config
hash) and keep probing at that rate forever, since a healthcheck cannot be
changed on an existing container.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from archgen.runtime.engine import Engine

INSPECT_EVERY = 0.25
COMPLETED_EVERY = 0.1
TICK = 0.05


class Cancelled(Exception):
    """The user pressed Ctrl-C: stop waiting."""


class WaitFailure(Exception):
    """A container did not reach the awaited state (it exited, turned unhealthy, or timed out)."""

    def __init__(
        self,
        name: str,
        container_id: str,
        reason: str,
        *,
        health_output: str = "",
        exit_code: int | None = None,
    ) -> None:
        super().__init__(f"container {name} {reason}")
        self.name = name
        self.container_id = container_id
        self.reason = reason
        self.health_output = health_output.strip()
        self.exit_code = exit_code


def probe_command(test: list[str]) -> list[str] | None:
    """The argv the engine would run for a healthcheck `Test` (None: no healthcheck)."""
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return None


def probe_delay(elapsed: float) -> float:
    """How long to wait before the next probe, `elapsed` seconds into the wait.

    Most services are ready within their first seconds: probing every 0.05 s then
    is what brings `up --wait` close to the services' own start-up time. Probes
    run one at a time, and after a failed probe the wait is at least half as long
    as that probe took, so a costly probe command does not crowd out the service.
    """
    if elapsed < 2:
        return 0.05
    if elapsed < 5:
        return 0.25
    if elapsed < 20:
        return 0.5
    return 1.0


@dataclass
class _Probe:
    """One healthcheck run in a daemon thread, so a hanging probe never blocks the wait."""

    engine: Engine
    container_id: str
    command: list[str]
    started: float = field(default_factory=time.monotonic)
    result: tuple[int, str] | None = None

    def __post_init__(self) -> None:
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        self.result = self.engine.exec_probe(self.container_id, self.command)


@dataclass
class Waiter:
    """Waits on containers until a shared deadline, or until `cancel` is set.

    Attributes:
        engine: the engine adapter.
        cancel: set on the first Ctrl-C; every wait then raises `Cancelled`.
        deadline: a `time.monotonic()` instant after which waits fail (None: none).
        timeout: the timeout the deadline came from, for messages.
    """

    engine: Engine
    cancel: threading.Event
    deadline: float | None = None
    timeout: float | None = None

    def _check(self, name: str, container_id: str, what: str, output: str = "") -> None:
        if self.cancel.is_set():
            raise Cancelled
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise WaitFailure(
                name, container_id, f"did not become {what} within {self.timeout:g} s", health_output=output
            )

    def _sleep(self, seconds: float) -> None:
        self.cancel.wait(seconds)

    def healthy(self, container_id: str, name: str) -> None:
        """Return once the container is healthy (by the engine or by our own probe)."""
        info = self.engine.inspect(container_id)
        config = (info.get("Config") or {}).get("Healthcheck") or {}
        command = probe_command(list(config.get("Test") or []))
        if command is None:
            raise WaitFailure(name, container_id, "has no healthcheck to wait for")
        probe_timeout = (config.get("Timeout") or 30_000_000_000) / 1e9
        restarts = int(info.get("RestartCount") or 0)
        begin = time.monotonic()
        next_probe = begin
        next_inspect = begin + INSPECT_EVERY
        probe: _Probe | None = None
        output = ""
        while True:
            now = time.monotonic()
            if now >= next_inspect:
                info = self.engine.inspect(container_id)
                next_inspect = now + INSPECT_EVERY
            state = info.get("State") or {}
            self._fail_if_stopped(info, restarts, name, container_id, output)
            health = state.get("Health") or {}
            if health.get("Status") == "healthy":
                return
            if health.get("Status") == "unhealthy":
                raise WaitFailure(
                    name, container_id, "is unhealthy", health_output=_last_health(health) or output
                )
            if probe is not None and probe.result is not None:
                code, text = probe.result
                if code == 0:
                    return
                output = text
                # Rest at least half as long as the probe ran: a costly probe (a Python
                # one-liner) then leaves most of a core to the service starting up.
                next_probe = max(next_probe, now + (now - probe.started) / 2)
                probe = None
            elif probe is not None and now - probe.started > probe_timeout:
                output = f"health probe timed out after {probe_timeout:g} s"
                probe = None
            if probe is None and now >= next_probe and state.get("Status") == "running":
                probe = _Probe(self.engine, container_id, command)
                next_probe = now + probe_delay(now - begin)
            self._check(name, container_id, "healthy", _last_health(health) or output)
            self._sleep(TICK)

    def completed(self, container_id: str, name: str) -> None:
        """Return once the container has exited with code 0; fail on any other exit."""
        restarts: int | None = None
        while True:
            info = self.engine.inspect(container_id)
            state = info.get("State") or {}
            if state.get("Status") in ("exited", "dead"):
                code = int(state.get("ExitCode") or 0)
                if code == 0:
                    return
                raise WaitFailure(name, container_id, f"exited with code {code}", exit_code=code)
            restarts = int(info.get("RestartCount") or 0) if restarts is None else restarts
            self._fail_if_stopped(info, restarts, name, container_id, "")
            self._check(name, container_id, "completed")
            self._sleep(COMPLETED_EVERY)

    def running(self, container_id: str, name: str, *, job: bool) -> None:
        """Return once the container runs (or, for a job, has exited 0)."""
        restarts: int | None = None
        while True:
            info = self.engine.inspect(container_id)
            state = info.get("State") or {}
            status = state.get("Status")
            if status == "running":
                return
            if status in ("exited", "dead"):
                code = int(state.get("ExitCode") or 0)
                if code == 0 and job:
                    return
                raise WaitFailure(name, container_id, f"exited with code {code}", exit_code=code)
            restarts = int(info.get("RestartCount") or 0) if restarts is None else restarts
            self._fail_if_stopped(info, restarts, name, container_id, "")
            self._check(name, container_id, "running")
            self._sleep(INSPECT_EVERY)

    @staticmethod
    def _fail_if_stopped(
        info: dict[str, Any], restarts: int, name: str, container_id: str, output: str
    ) -> None:
        """Fail on an exit, and on a crash that the restart policy is reviving (a crash loop)."""
        state = info.get("State") or {}
        code = int(state.get("ExitCode") or 0)
        health = _last_health(state.get("Health") or {}) or output
        if state.get("Status") in ("exited", "dead"):
            raise WaitFailure(
                name, container_id, f"exited with code {code}", exit_code=code, health_output=health
            )
        count = int(info.get("RestartCount") or 0)
        if state.get("Status") == "restarting":
            reason = f"exited with code {code} and is being restarted"
            raise WaitFailure(name, container_id, reason, exit_code=code, health_output=health)
        if count > restarts:
            reason = f"crashed and was restarted by its restart policy (restart count {count})"
            raise WaitFailure(name, container_id, reason, health_output=health)


def _last_health(health: dict[str, Any]) -> str:
    log = health.get("Log") or []
    return str(log[-1].get("Output") or "").strip() if log else ""
