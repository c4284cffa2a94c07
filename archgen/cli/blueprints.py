"""The `blueprints` command: what each architecture offers and whether it renders yet."""

from __future__ import annotations

import typer

from archgen.cli._app import app, terminal

_OFFERS = {
    "mvc": "one app (models / views / controllers) behind a reverse proxy (nginx, httpd, envoy, "
    "haproxy) with TLS; MongoDB, PostgreSQL or MySQL; Redis for rate limiting and TTL data",
    "scaled": "a load balancer (round robin, least connections, weighted, IP hash) over N app "
    "replicas; a replicated database electing a new primary; Redis with sentinel failover",
    "microservices": "an API gateway; services each owning a database; Kafka or RabbitMQ with "
    "sagas; Keycloak; Prometheus, Grafana and Jaeger",
}


@app.command()
def blueprints(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """List the blueprints: what each renders and whether it is available.

    Example: archgen blueprints --json
    """
    from archgen.render import available_blueprints

    ready = available_blueprints()
    rows = [
        {"architecture": name, "renders": name in ready, "offers": offers}
        for name, offers in _OFFERS.items()
    ]
    if as_json:
        terminal.json(rows)
        return
    for row in rows:
        state = "renders" if row["renders"] else "diagram and validate only (not available yet)"
        terminal.data(f"{row['architecture']:14} {state}\n{'':14} {row['offers']}")
