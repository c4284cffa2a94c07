"""End to end on a real engine: the GraphQL API style through the edge, over TLS.

An MVC stack (PostgreSQL, Redis) behind each proxy kind, and a small microservices stack
(two services) behind each gateway kind with its bus (nginx and RabbitMQ, Envoy and Kafka),
with `api: [rest, graphql]`: a GraphQL query reads
what a REST call wrote, REST reads what a GraphQL mutation wrote (also after the REST
answer was cached), and a GraphQL write's event reaches its consumer through the
outbox and the bus, as a REST write's does.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from archgen.catalog import CATALOG
from tests.e2e.conftest import require_images
from tests.e2e.test_mvc_stack import _free_port, _the_generated_suite_passes_inside_the_stack, archgen

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

PRODUCT = "id title price tags"


def graphql(client: httpx.Client, path: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(path, json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def refused(client: httpx.Client, path: str, query: str) -> str:
    response = client.post(path, json={"query": query})
    assert response.status_code == 200, response.text
    errors = response.json().get("errors")
    assert errors, response.text
    return " ".join(str(error["message"]) for error in errors)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "project"
    yield target
    if (target / "compose.yaml").is_file():
        archgen("down", "--volumes", cwd=target, check=False, timeout=300)


# Every proxy forwards every path to the app: /graphql needs no route of its own.
@pytest.mark.parametrize("proxy", ["nginx", "httpd", "envoy", "haproxy"])
def test_mvc_graphql_through_the_proxy_reads_and_writes_what_rest_does(
    proxy: str, project: Path, tmp_path: Path, docker_client: Any
) -> None:
    require_images(docker_client, [CATALOG[k].image for k in (proxy, "postgres", "redis", "python")])
    name = f"e2e-gql-{proxy}-{secrets.token_hex(3)}"
    https_port = _free_port()
    spec = {
        "name": name,
        "architecture": "mvc",
        "proxy": {"kind": proxy, "http_port": _free_port(), "https_port": https_port},
        "database": {"engine": "postgres"},
        "app": {"api": ["rest", "graphql"], "entities": [
            {"name": "product", "fields": {"title": "str", "price": "float", "tags": "list[str]"}}]},
    }
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    archgen("new", spec_file, "-o", project)
    assert "POST /graphql" in (project / "README.md").read_text()
    archgen("up", "--wait", "--timeout", "600", cwd=project, timeout=1200)

    with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=30) as client:
        # REST writes, GraphQL reads (one item and the list).
        created = client.post("/api/products", json={"title": "lamp", "price": 9.5, "tags": ["a"]})
        assert created.status_code == 201, created.text
        rest_id = created.json()["id"]
        read = graphql(client, "/graphql", f"query($id: ID!) {{ product(id: $id) {{ {PRODUCT} }} }}",
                       id=rest_id)
        assert read["product"] == {"id": rest_id, "title": "lamp", "price": 9.5, "tags": ["a"]}
        page = graphql(client, "/graphql", "{ products(limit: 100) { total items { id } } }")
        assert {"id": rest_id} in page["products"]["items"]

        # GraphQL writes, REST reads; a GraphQL change is seen by REST's cached GET too.
        made = graphql(client, "/graphql", f"mutation($input: ProductInput!) "
                       f"{{ create_product(input: $input) {{ {PRODUCT} }} }}",
                       input={"title": "desk", "price": 120.0, "tags": ["b", "c"]})["create_product"]
        first = client.get(f"/api/products/{made['id']}")
        assert first.status_code == 200 and first.json() == made
        assert client.get(f"/api/products/{made['id']}").headers.get("x-cache") == "HIT"
        changed = graphql(client, "/graphql", "mutation($id: ID!) "
                          "{ update_product(id: $id, input: {price: 99.0}) { price title } }",
                          id=made["id"])
        assert changed["update_product"] == {"price": 99.0, "title": "desk"}
        assert client.get(f"/api/products/{made['id']}").json()["price"] == 99.0
        deleted = graphql(client, "/graphql", "mutation($id: ID!) { delete_product(id: $id) }",
                          id=rest_id)
        assert deleted == {"delete_product": True}
        assert client.get(f"/api/products/{rest_id}").status_code == 404

        # Hostile input is bounded, and there is no GraphiQL page or query over GET.
        aliases = " ".join(f"a{i}: products {{ total }}" for i in range(50))
        assert "aliases" in refused(client, "/graphql", f"{{ {aliases} }}")
        assert client.get("/graphql", params={"query": "{ products { total } }"}).status_code != 200
        assert "graphiql" not in client.get("/graphql", headers={"Accept": "text/html"}).text.lower()
        assert client.post("/graphql", content=b"x" * (11 * 1024 * 1024),
                           headers={"Content-Type": "application/json"}).status_code == 413
        # REST stays, with its OpenAPI document.
        assert "/api/products" in client.get("/openapi.json").json()["paths"]
    if proxy == "nginx":  # the app's own suite (its GraphQL tests too) in its test image, once
        _the_generated_suite_passes_inside_the_stack(project)


# The gateway strips /api/<service>: /api/orders/graphql reaches the service's /graphql.
@pytest.mark.parametrize(("gateway", "bus"), [("nginx", "rabbitmq"), ("envoy", "kafka")])
def test_microservices_graphql_through_the_gateway_and_its_events(
    gateway: str, bus: str, project: Path, tmp_path: Path, docker_client: Any
) -> None:
    require_images(docker_client, [CATALOG[k].image for k in (gateway, bus, "postgres", "python")])
    name = f"e2e-gql-{gateway}-{bus}-{secrets.token_hex(3)}"
    https_port = _free_port()
    spec = {
        "name": name,
        "architecture": "microservices",
        "gateway": {"kind": gateway, "http_port": _free_port(), "https_port": https_port},
        "bus": {"kind": bus},
        "services": [
            {"name": "orders", "database": "postgres", "api": ["rest", "graphql"],
             "publishes": ["order.created"],
             "entities": [{"name": "order", "fields": {"customer": "str", "total": "float"}}]},
            {"name": "stock", "database": "none", "consumes": ["order.created"]},
        ],
    }
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    archgen("new", spec_file, "-o", project)
    assert "POST /api/orders/graphql" in (project / "README.md").read_text()
    archgen("up", "--wait", "--timeout", "900", cwd=project, timeout=1200)

    path = "/api/orders/graphql"
    with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=30) as client:
        created = client.post("/api/orders/orders", json={"customer": "ada", "total": 12.5})
        assert created.status_code == 201, created.text
        rest_id = created.json()["id"]
        read = graphql(client, path, "query($id: ID!) { order(id: $id) { id customer total } }", id=rest_id)
        assert read["order"] == {"id": rest_id, "customer": "ada", "total": 12.5}

        made = graphql(client, path, "mutation { create_order(input: {customer: \"bob\", total: 3.0}) "
                       "{ id customer total } }")["create_order"]
        assert client.get(f"/api/orders/orders/{made['id']}").json() == made

        # The GraphQL write's event went through the outbox and the bus to its consumer.
        deadline = time.monotonic() + 120
        while True:
            received = client.get("/api/stock/events/received", params={"type": "order.created"})
            assert received.status_code == 200, received.text
            ids = {event["payload"].get("id") for event in received.json()}
            if {rest_id, made["id"]} <= ids:
                break
            assert time.monotonic() < deadline, f"order.created not received: {received.json()}"
            time.sleep(1)
        assert "graphql" not in {p.strip("/") for p in client.get("/api/stock/openapi.json")
                                 .json()["paths"]}, "stock asked for REST only"
