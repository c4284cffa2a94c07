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


# -- gRPC: a real grpcio client over TLS through the edge -----------------------------------


def _grpc_client(project: Path, app_dir: str, edge_dir: str, https_port: int) -> Any:
    from tests.e2e._grpc_client import Client

    return Client(project / app_dir / "proto/app.proto", f"127.0.0.1:{https_port}",
                  project / edge_dir / "tls/cert.pem")


def _grpc_reads_what_rest_wrote(project: Path, edge_dir: str, https_port: int, name: str) -> None:
    """Through the edge over TLS: health, REST → gRPC and gRPC → REST, errors as status codes."""
    import grpc

    from tests.e2e._grpc_client import SERVING

    client = _grpc_client(project, "app", edge_dir, https_port)
    package = name.replace("-", "_")
    try:
        assert client.health() == SERVING
        assert client.health(f"{package}.ProductService") == SERVING
        with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=30) as rest:
            created = rest.post("/api/products", json={"title": "lamp", "price": 9.5, "tags": ["a"]})
            assert created.status_code == 201, created.text
            rest_id = created.json()["id"]
            # REST wrote, gRPC reads (one item and the list).
            item = client.call("Product", "Get", client.message("GetProductRequest", id=rest_id),
                               "Product")
            assert (item.id, item.title, item.price, list(item.tags)) == (rest_id, "lamp", 9.5, ["a"])
            page = client.call("Product", "List", client.message("ListProductRequest", limit=100),
                               "ListProductResponse")
            assert rest_id in [found.id for found in page.items] and page.total >= 1
            # gRPC writes, REST reads.
            made = client.call("Product", "Create", client.message(
                "ProductInput", title="desk", price=120.0, tags=["b"]), "Product")
            assert rest.get(f"/api/products/{made.id}").json()["title"] == "desk"
        # Errors are status codes, without internals.
        with pytest.raises(grpc.RpcError) as missing:
            client.call("Product", "Get", client.message("GetProductRequest", id="nope"), "Product")
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.RpcError) as too_many:
            client.call("Product", "List", client.message("ListProductRequest", limit=1000),
                        "ListProductResponse")
        assert too_many.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        client.close()


# httpd cannot carry gRPC (its port is published on loopback instead: see the render tests).
@pytest.mark.parametrize("proxy", ["nginx", "envoy", "haproxy"])
def test_mvc_grpc_through_the_proxy_reads_what_rest_wrote(
    proxy: str, project: Path, tmp_path: Path, docker_client: Any
) -> None:
    require_images(docker_client, [CATALOG[k].image for k in (proxy, "postgres", "redis", "python")])
    name = f"e2e-grpc-{proxy}-{secrets.token_hex(3)}"
    https_port = _free_port()
    spec = {
        "name": name,
        "architecture": "mvc",
        "proxy": {"kind": proxy, "http_port": _free_port(), "https_port": https_port},
        "database": {"engine": "postgres"},
        "app": {"api": ["rest", "grpc"], "entities": [
            {"name": "product", "fields": {"title": "str", "price": "float", "tags": "list[str]"}}]},
    }
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    archgen("new", spec_file, "-o", project)
    assert "grpcurl -cacert proxy/tls/cert.pem" in (project / "README.md").read_text()
    archgen("up", "--wait", "--timeout", "600", cwd=project, timeout=1200)

    _grpc_reads_what_rest_wrote(project, "proxy", https_port, name)
    compose = yaml.safe_load((project / "compose.yaml").read_text())
    assert [s for s, service in compose["services"].items() if service.get("ports")] == ["proxy"]
    if proxy == "nginx":  # the app's own suite (its gRPC tests on the compiled proto), once
        _the_generated_suite_passes_inside_the_stack(project)


@pytest.mark.parametrize(("gateway", "bus"), [("envoy", "rabbitmq")])
def test_microservices_grpc_through_the_gateway_and_its_events(
    gateway: str, bus: str, project: Path, tmp_path: Path, docker_client: Any
) -> None:
    from tests.e2e._grpc_client import SERVING

    require_images(docker_client, [CATALOG[k].image for k in (gateway, bus, "postgres", "python")])
    name = f"e2e-grpc-{gateway}-{secrets.token_hex(3)}"
    https_port = _free_port()
    spec = {
        "name": name,
        "architecture": "microservices",
        "gateway": {"kind": gateway, "http_port": _free_port(), "https_port": https_port},
        "bus": {"kind": bus},
        "services": [
            {"name": "orders", "database": "postgres", "api": ["rest", "grpc"],
             "publishes": ["order.created"],
             "entities": [{"name": "order", "fields": {"customer": "str", "total": "float"}}]},
            {"name": "stock", "database": "none", "consumes": ["order.created"], "api": ["rest", "grpc"],
             "entities": [{"name": "item", "fields": {"sku": "str"}}]},
        ],
    }
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    archgen("new", spec_file, "-o", project)
    archgen("up", "--wait", "--timeout", "900", cwd=project, timeout=1200)

    orders = _grpc_client(project, "services/orders", "gateway", https_port)
    stock = _grpc_client(project, "services/stock", "gateway", https_port)
    try:
        with httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=30) as rest:
            created = rest.post("/api/orders/orders", json={"customer": "ada", "total": 12.5})
            assert created.status_code == 201, created.text
            rest_id = created.json()["id"]
            order = orders.call("Order", "Get", orders.message("GetOrderRequest", id=rest_id), "Order")
            assert (order.id, order.customer, order.total) == (rest_id, "ada", 12.5)
            made = orders.call("Order", "Create", orders.message("OrderInput", customer="bob", total=3.0),
                               "Order")
            assert rest.get(f"/api/orders/orders/{made.id}").json()["customer"] == "bob"
            # Each service's package reaches that service only.
            item = stock.call("Item", "Create", stock.message("ItemInput", sku="x-1"), "Item")
            assert rest.get(f"/api/stock/items/{item.id}").json()["sku"] == "x-1"
            # The gRPC write's event went through the outbox and the bus to its consumer.
            deadline = time.monotonic() + 120
            while True:
                received = rest.get("/api/stock/events/received", params={"type": "order.created"})
                assert received.status_code == 200, received.text
                if made.id in {event["payload"].get("id") for event in received.json()}:
                    break
                assert time.monotonic() < deadline, f"order.created not received: {received.json()}"
                time.sleep(1)
    finally:
        orders.close()
        stock.close()
    # The health service, asked inside the network (the gateway routes packages, not /grpc.).
    probe = ("import grpc; from grpc_health.v1 import health_pb2 as h, health_pb2_grpc as g; "
             "print(g.HealthStub(grpc.insecure_channel('127.0.0.1:50051')).Check("
             "h.HealthCheckRequest(service=''), timeout=10).status)")
    exit_code, output = docker_client.containers.get(f"{name}-orders-1").exec_run(
        ["python", "-c", probe])
    assert exit_code == 0 and output.decode().strip() == str(SERVING), output


def test_scaled_grpc_through_the_nginx_load_balancer(
    project: Path, tmp_path: Path, docker_client: Any
) -> None:
    require_images(docker_client, [CATALOG[k].image for k in ("nginx", "postgres", "redis", "python")])
    name = f"e2e-grpc-lb-{secrets.token_hex(3)}"
    https_port = _free_port()
    spec = {
        "name": name,
        "architecture": "scaled",
        "load_balancer": {"kind": "nginx", "http_port": _free_port(), "https_port": https_port},
        "database": {"engine": "postgres", "replicas": 2},
        "cache": {"sentinel": False},
        "app": {"replicas": 2, "api": ["rest", "grpc"], "entities": [
            {"name": "product", "fields": {"title": "str", "price": "float", "tags": "list[str]"}}]},
    }
    spec_file = tmp_path / "archgen.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    archgen("new", spec_file, "-o", project)
    archgen("up", "--wait", "--timeout", "600", cwd=project, timeout=1200)
    _grpc_reads_what_rest_wrote(project, "lb", https_port, name)
