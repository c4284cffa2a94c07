"""Smoke checks of `observability`: every Prometheus target up, each app's traces in Jaeger.

They run last, on the UIs' loopback ports: by then the earlier checks have sent the traffic
whose traces Jaeger should hold. Both wait a bounded time, because Prometheus marks a target
only after its first scrape and the apps export their spans in batches.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from archgen.check._checks import Check, CheckFailure
from archgen.check._http import Client

WAIT_SECONDS = 60  # four scrape intervals; several span batches
POLL_SECONDS = 3.0


def observability_checks(context: dict[str, Any]) -> list[Check]:
    """The checks of `context["observability"]` (none without it)."""
    tools = context.get("observability") or {}
    checks = []
    if prometheus := tools.get("prometheus"):
        checks.append(Check("every Prometheus target up", str(prometheus["service"]),
                            partial(_targets_up, url=str(prometheus["url"]))))
    if jaeger := tools.get("jaeger"):
        services = [str(s) for s in jaeger["services"]]
        checks.append(Check(f"traces of {', '.join(services)} in Jaeger", str(jaeger["service"]),
                            partial(_traced, url=str(jaeger["url"]), services=services)))
    return checks


def _poll(client: Client, url: str, what: str) -> Any:
    """The JSON of a 200 from `url` (a refused connection or another status fails at once)."""
    answer = client.request("GET", url, patient=False)
    if answer.status != 200:
        raise CheckFailure(f"{what}: expected 200, got {answer.status}", answer)
    return answer.json()


def _targets_up(client: Client, url: str) -> str:
    waited, down = 0.0, ["no target yet"]
    while True:
        targets = (_poll(client, f"{url}/api/v1/targets", "Prometheus's targets API")
                   .get("data", {}).get("activeTargets") or [])
        down = [f"{t.get('labels', {}).get('job')} {t.get('scrapeUrl')}: {t.get('health')}"
                f"{' (' + t['lastError'] + ')' if t.get('lastError') else ''}"
                for t in targets if t.get("health") != "up"] if targets else ["no target yet"]
        if not down:
            jobs = sorted({str(t.get("labels", {}).get("job")) for t in targets})
            return f"{len(targets)} targets up ({', '.join(jobs)})"
        if waited >= WAIT_SECONDS:
            raise CheckFailure(f"not every target up after {WAIT_SECONDS} s: " + "; ".join(down))
        client.wait(POLL_SECONDS)
        waited += POLL_SECONDS


def _traced(client: Client, url: str, services: list[str]) -> str:
    waited = 0.0
    while True:
        known = set(_poll(client, f"{url}/api/services", "Jaeger's services API").get("data") or [])
        missing = [s for s in services if s not in known]
        if not missing:
            return f"Jaeger holds traces of {', '.join(services)}"
        if waited >= WAIT_SECONDS:
            raise CheckFailure(f"no trace of {', '.join(missing)} in Jaeger after "
                               f"{WAIT_SECONDS} s (it knows: {', '.join(sorted(known)) or 'none'})")
        client.wait(POLL_SECONDS)
        waited += POLL_SECONDS
