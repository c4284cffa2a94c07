"""One registry of architectures: resolver, spec rules, blueprint and description, side by side."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from archgen.model.graph import Architecture
from archgen.model.microservices import resolve_microservices
from archgen.model.mvc import resolve_mvc
from archgen.model.scaled import resolve_scaled


@dataclass(frozen=True)
class ArchitectureEntry:
    """Everything archgen knows about one architecture, in one place."""

    name: str
    offers: str  # one sentence for `archgen blueprints`
    resolve: Callable[[dict[str, Any]], Architecture]
    rules: str  # the spec checker's method for this architecture (archgen.spec._rules)
    renders: bool  # whether its blueprint renders a project yet
    uses_entities: bool  # whether `app.entities` applies


REGISTRY: dict[str, ArchitectureEntry] = {
    entry.name: entry
    for entry in (
        ArchitectureEntry(
            "mvc",
            "one app (models / views / controllers) behind a reverse proxy (nginx, httpd, envoy, "
            "haproxy) with TLS; MongoDB, PostgreSQL or MySQL; Redis for rate limiting and TTL data",
            resolve_mvc, "mvc", renders=True, uses_entities=True),
        ArchitectureEntry(
            "scaled",
            "a load balancer (round robin, least connections, weighted, IP hash) over N app "
            "replicas; a replicated database electing a new primary; Redis with sentinel failover",
            resolve_scaled, "scaled", renders=True, uses_entities=True),
        ArchitectureEntry(
            "microservices",
            "an API gateway (envoy, nginx); services each owning a database; Kafka or RabbitMQ "
            "with a transactional outbox; sagas with compensations",
            resolve_microservices, "microservices", renders=True, uses_entities=True),
    )
}


def entry_for(architecture: str) -> ArchitectureEntry:
    return REGISTRY[architecture]
