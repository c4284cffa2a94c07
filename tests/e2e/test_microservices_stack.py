"""End to end on a real engine: gateway → 3 services (postgres, mysql, mongodb) → bus, sagas, outbox.

Two stacks, each shared by the tests of its module-scoped fixture: Kafka behind an Envoy
gateway, RabbitMQ behind an nginx gateway. Everything a client does goes through the
gateway over HTTPS; what it did is then read in each owner's own database.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import yaml

from archgen.catalog import CATALOG
from tests.e2e.conftest import require_images
from tests.e2e.test_mvc_stack import archgen

# The first test of each stack also waits for its build and start.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

GATEWAY = {"kafka": "envoy", "rabbitmq": "nginx"}
SAGA = "place-order"
# service -> (database engine, collection path, a body to create)
SERVICES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "orders": ("postgres", "orders", {"customer": "ada", "total": 12.5}),
    "stock": ("mysql", "items", {"sku": "lamp-1", "quantity": 3}),
    "payments": ("mongodb", "payments", {"order_ref": "o-1", "amount": 12.5}),
}
T = TypeVar("T")


RATE_LIMIT = 600


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spec(name: str, bus: str) -> dict[str, Any]:
    return {
        "name": name,
        "architecture": "microservices",
        "gateway": {"kind": GATEWAY[bus], "http_port": _free_port(), "https_port": _free_port()},
        "bus": {"kind": bus},
        # High enough for every other test's traffic from the host, low enough to reach
        # from inside the stack in a moment.
        "cache": {"rate_limit": {"requests": RATE_LIMIT, "window": "60s"}},
        "services": [
            {"name": "orders", "database": "postgres", "publishes": ["order.created"],
             "entities": [{"name": "order", "fields": {"customer": "str", "total": "float"}}]},
            {"name": "stock", "database": "mysql", "consumes": ["order.created"],
             "entities": [{"name": "item", "fields": {"sku": "str", "quantity": "int"}}]},
            {"name": "payments", "database": "mongodb", "consumes": ["order.created"],
             "entities": [{"name": "payment", "fields": {"order_ref": "str", "amount": "float"}}]},
        ],
        "sagas": [{"name": SAGA, "steps": [
            {"service": "orders", "action": "create", "compensate": "cancel"},
            {"service": "stock", "action": "reserve", "compensate": "release"},
            {"service": "payments", "action": "charge", "compensate": "refund"}]}],
        **({"ui_ports": {"rabbitmq": _free_port()}} if bus == "rabbitmq" else {}),
    }


@dataclass
class Stack:
    name: str
    bus: str
    project: Path
    client: httpx.Client
    env: dict[str, str]
    docker: Any

    def secret(self, name: str) -> str:
        """A password of the stack, from its git-ignored secrets/ folder."""
        return (self.project / "secrets" / name).read_text().strip()

    def container(self, service: str) -> Any:
        return self.docker.containers.get(f"{self.name}-{service}-1")

    def sql(self, service: str, query: str) -> str:
        """`query` as the service's own database user, in its own database."""
        engine = SERVICES[service][0]
        if engine == "postgres":
            command = ["psql", "-U", "app", "-d", service, "-tAc", query]
        else:
            command = ["mysql", "-uapp", f"-p{self.secret(f'{service}_mysql_password')}",
                       "-h", "127.0.0.1", service, "-N", "-e", query]
        code, output = self.container(f"{service}-db").exec_run(command)
        assert code == 0, output.decode()
        return str(output.decode().strip())

    def mongo(self, service: str, script: str) -> str:
        password = self.secret(f"{service}_mongo_app_password")
        code, output = self.container(f"{service}-db").exec_run(
            ["mongosh", "--quiet", "--username", "app", "--password", password,
             "--authenticationDatabase", service, service, "--eval", script])
        assert code == 0, output.decode()
        return str(output.decode().strip().splitlines()[-1])

    def count(self, service: str, table: str, where: dict[str, str]) -> int:
        """Rows (documents) of `table` in `service`'s database matching `where`."""
        if SERVICES[service][0] == "mongodb":
            clauses = []
            for key, value in where.items():
                if key == "id":  # the document id: an ObjectId or a string
                    clauses.append(f"{{$or: [{{_id: {json.dumps(value)}}}, {{_id: "
                                   f"(/^[0-9a-f]{{24}}$/.test({json.dumps(value)}) ? "
                                   f"ObjectId({json.dumps(value)}) : null)}}]}}")
                else:
                    clauses.append(f"{{{key}: {json.dumps(value)}}}")
            return int(self.mongo(service, f"print(db.{table}.countDocuments("
                                           f"{{$and: [{', '.join(clauses)}]}}))"))
        condition = " AND ".join(f"{key} = '{value}'" for key, value in where.items())
        return int(self.sql(service, f"SELECT COUNT(*) FROM {table} WHERE {condition}"))


def _eventually(check: Callable[[], T | None], timeout: float = 120, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(1)


@pytest.fixture(scope="module", params=sorted(GATEWAY))
def stack(request: pytest.FixtureRequest, docker_client: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    bus = str(request.param)
    kinds = [GATEWAY[bus], bus, "postgres", "mysql", "mongodb", "python"]
    require_images(docker_client, [CATALOG[k].image for k in kinds])
    name = f"e2e-ms-{bus}-{secrets.token_hex(3)}"
    root = tmp_path_factory.mktemp(name)
    spec = root / "archgen.yaml"
    data = _spec(name, bus)
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    project = root / name
    archgen("new", spec, "-o", project)
    env_file = project / ".env"
    # Fault injection on for this stack only (off by default).
    env_file.write_text(re.sub(r"^APP_FAULT_INJECTION=.*$", "APP_FAULT_INJECTION=true",
                               env_file.read_text(), flags=re.M))
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines()
               if "=" in line and not line.startswith("#"))
    client = httpx.Client(base_url=f"https://127.0.0.1:{data['gateway']['https_port']}",
                          verify=False, timeout=30)
    try:
        archgen("up", "--wait", "--timeout", "900", cwd=project, timeout=1200)
        yield Stack(name, bus, project, client, env, docker_client)
    finally:
        client.close()
        archgen("down", "--volumes", cwd=project, check=False, timeout=300)


# -- what works without the bus code: the gateway, CRUD, isolation -----------------------------

def test_only_the_gateway_publishes_ports_beside_the_local_uis(stack: Stack) -> None:
    label = {"label": f"io.archgen.project={stack.name}"}
    published = {c.labels["io.archgen.service"]: [b["HostIp"] for bs in
                                                   c.attrs["NetworkSettings"]["Ports"].values()
                                                   for b in bs or []]
                 for c in stack.docker.containers.list(filters=label)
                 if any(c.attrs["NetworkSettings"]["Ports"].get(p)
                        for p in c.attrs["NetworkSettings"]["Ports"] or {})}
    # RabbitMQ's management UI, on loopback only; AMQP itself is never published.
    uis = {"bus": ["127.0.0.1"]} if stack.bus == "rabbitmq" else {}
    assert {k: v for k, v in published.items() if k != "gateway"} == uis
    assert stack.client.get("/healthz").status_code == 200
    assert stack.client.get("/nowhere").status_code == 404


def test_rabbitmqs_management_ui_is_on_loopback_and_listed_by_status(stack: Stack) -> None:
    rows = json.loads(archgen("status", "--json", cwd=stack.project).stdout)
    uis = {r["service"]: r["ui"] for r in rows if r.get("ui")}
    if stack.bus != "rabbitmq":
        assert uis == {}  # Kafka has no UI of its own
        return
    url = uis["bus"]["url"]
    assert uis == {"bus": {"name": "RabbitMQ management", "url": url}}
    assert url.startswith("http://127.0.0.1:")
    assert httpx.get(f"{url}/api/overview", timeout=10).status_code == 401
    overview = httpx.get(f"{url}/api/overview", timeout=10,
                         auth=(stack.env["RABBITMQ_USER"], stack.secret("rabbitmq_password")))
    assert overview.status_code == 200, overview.text
    assert overview.json()["rabbitmq_version"]
    assert "RabbitMQ" in httpx.get(url, timeout=10).text  # the UI's own page


BURST = """
import http.client, json, ssl, sys
connection = http.client.HTTPSConnection("gateway", int(sys.argv[2]),
                                         context=ssl._create_unverified_context(), timeout=10)
codes, retry_after = {}, set()
for _ in range(int(sys.argv[1])):
    connection.request("GET", "/api/orders/orders?limit=1")
    response = connection.getresponse()
    response.read()
    codes[response.status] = codes.get(response.status, 0) + 1
    if response.status == 429:
        retry_after.add(response.getheader("retry-after"))
print(json.dumps({"codes": codes, "retry_after": sorted(str(r) for r in retry_after)}))
"""


def test_the_gateway_limits_each_client_address_and_body_size(stack: Stack) -> None:
    # The burst comes from inside the stack (the orders container, on the gateway's
    # network): its own client address, so it cannot exhaust the host's allowance.
    port = 8443
    code, output = stack.container("orders").exec_run(
        ["python3", "-c", BURST, str(RATE_LIMIT + 150), str(port)])
    assert code == 0, output.decode()
    result = json.loads(output.decode().strip().splitlines()[-1])
    codes = {int(k): v for k, v in result["codes"].items()}
    assert set(codes) == {200, 429}, codes
    assert RATE_LIMIT <= codes[200] < RATE_LIMIT + 100, codes  # the bucket, plus what refilled
    assert result["retry_after"] == ["60"], result
    assert stack.client.get("/api/orders/orders").status_code == 200  # another client: unaffected
    too_big = stack.client.post("/api/orders/orders", content=b"x" * (10 * 1048576 + 1),
                                headers={"Content-Type": "application/json"})
    assert too_big.status_code == 413


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_crud_through_the_gateway_lands_in_the_owners_database(stack: Stack, service: str) -> None:
    _, path, body = SERVICES[service]
    base = f"/api/{service}/{path}"
    created = stack.client.post(base, json=body, headers={"X-Request-Id": f"e2e-{service}"})
    assert created.status_code == 201, created.text
    assert created.headers["x-request-id"] == f"e2e-{service}"
    item = created.json()
    ident = str(item["id"])
    assert stack.client.get(f"{base}/{ident}").json()["id"] == item["id"]
    assert any(str(i["id"]) == ident for i in stack.client.get(base).json()["items"])
    assert stack.count(service, path, {"id": ident}) == 1
    # No other service holds it: each database is its owner's.
    assert stack.client.get(f"/api/{service}/{path}/{ident}").status_code == 200
    assert stack.client.delete(f"{base}/{ident}").status_code == 204
    assert stack.count(service, path, {"id": ident}) == 0


def test_each_database_is_on_a_network_of_its_owner_only(stack: Stack) -> None:
    probe = ("import socket, sys\ntry:\n    socket.getaddrinfo(sys.argv[1], None)\n"
             "except OSError:\n    sys.exit(3)\n")
    for owner in SERVICES:
        for other in SERVICES:
            code, _ = stack.container(other).exec_run(["python", "-c", probe, f"{owner}-db"])
            assert (code == 0) == (owner == other), (other, f"{owner}-db", code)
    code, _ = stack.container("gateway").exec_run(["sh", "-c", "getent hosts bus || exit 3"])
    assert code != 0  # the gateway is not on the backend network either


# -- sagas, outbox, idempotency and dead letters (the app part's bus code) --------------------

def _saga(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    started = stack.client.post(f"/api/sagas/{SAGA}", json=body)
    assert started.status_code == 202, started.text
    first = started.json()
    assert first["saga"] == SAGA and first["state"] == "running"

    last: dict[str, Any] = {}

    def finished() -> dict[str, Any] | None:
        last.update(stack.client.get(f"/api/sagas/{SAGA}/{first['id']}").json())
        return last if last["state"] in ("completed", "compensated", "failed") else None

    try:
        return _eventually(finished, 180, f"saga {first['id']} to finish")
    except AssertionError as error:  # say which step it waits for
        raise AssertionError(f"{error}; last seen: {json.dumps(last)}") from None


def _steps(stack: Stack, service: str, saga_id: str) -> dict[str, str]:
    rows = stack.client.get(f"/api/{service}/saga-steps", params={"saga_id": saga_id}).json()
    rows = rows["items"] if isinstance(rows, dict) else rows
    states: dict[str, str] = {}
    for row in rows:  # oldest first: the last state of each action wins
        states[row["action"]] = row["state"]
    return states


def test_a_saga_completes_and_each_step_is_in_its_services_database(stack: Stack) -> None:
    saga = _saga(stack, {"order": "e2e"})
    assert saga["state"] == "completed", saga
    assert [(s["service"], s["action"], s["state"]) for s in saga["steps"]] == [
        ("orders", "create", "done"), ("stock", "reserve", "done"), ("payments", "charge", "done")]
    for service, action in (("orders", "create"), ("stock", "reserve"), ("payments", "charge")):
        assert _steps(stack, service, saga["id"]) == {action: "done"}
        assert stack.count(service, "saga_steps", {"saga_id": saga["id"], "state": "done"}) == 1


def test_a_saga_failing_at_its_last_step_is_compensated_in_reverse(stack: Stack) -> None:
    saga = _saga(stack, {"order": "e2e", "fail_at": "payments.charge"})
    assert saga["state"] == "compensated", saga
    assert [(s["service"], s["state"]) for s in saga["steps"]] == [
        ("orders", "compensated"), ("stock", "compensated"), ("payments", "failed")]
    for service in ("orders", "stock"):
        assert stack.count(service, "saga_steps",
                           {"saga_id": saga["id"], "state": "compensated"}) == 1, service
    assert stack.count("payments", "saga_steps", {"saga_id": saga["id"]}) == 0


def _received(stack: Stack, service: str, marker: str) -> list[dict[str, Any]]:
    answer = stack.client.get(f"/api/{service}/events/received",
                              params={"type": "order.created"}).json()
    events = answer["items"] if isinstance(answer, dict) else answer
    return [e for e in events if marker in json.dumps(e.get("payload"))]


def test_an_event_written_while_the_bus_is_down_is_delivered_after_it_returns(
        stack: Stack) -> None:
    bus = stack.container("bus")
    bus.stop(timeout=10)
    marker = f"outbox-{uuid.uuid4().hex[:8]}"
    try:
        created = stack.client.post("/api/orders/orders", json={"customer": marker, "total": 1.0})
        assert created.status_code == 201, created.text  # the write does not need the bus
        time.sleep(3)
        assert _received(stack, "stock", marker) == []
    finally:
        bus.start()
    for consumer in ("stock", "payments"):
        _eventually(lambda c=consumer: _received(stack, c, marker), 240,  # type: ignore[misc]
                    f"{consumer} to receive the event written while the bus was down")


def _publish(stack: Stack, topic: str, body: str) -> None:
    """Put `body` on the bus under `topic`, as a producer outside the services would."""
    bus = stack.container("bus")
    if stack.bus == "kafka":
        command = ["bash", "-c", f"printf '%s\\n' \"$BODY\" | /opt/kafka/bin/kafka-console-producer"
                                 f".sh --bootstrap-server localhost:9092 --topic {topic}"]
        code, output = bus.exec_run(command, environment={"BODY": body})
    else:
        script = ("import base64, json, os, sys, urllib.request\n"
                  "auth = base64.b64encode(f\"{os.environ['U']}:{os.environ['P']}\".encode())\n"
                  "data = json.dumps({'properties': {'delivery_mode': 2}, 'routing_key': "
                  "sys.argv[1], 'payload': os.environ['BODY'], 'payload_encoding': 'string'})\n"
                  "request = urllib.request.Request('http://127.0.0.1:15672/api/exchanges/%2F/"
                  "archgen/publish', data.encode(), {'Authorization': 'Basic ' + auth.decode(), "
                  "'Content-Type': 'application/json'})\n"
                  "assert json.load(urllib.request.urlopen(request))['routed']\n")
        code, output = bus.exec_run(["python3", "-c", script, topic], environment={
            "BODY": body, "U": stack.env["RABBITMQ_USER"], "P": stack.secret("rabbitmq_password")})
    assert code == 0, output.decode()


def test_a_message_delivered_twice_is_processed_once(stack: Stack) -> None:
    marker = f"twice-{uuid.uuid4().hex[:8]}"
    envelope = json.dumps({
        "id": str(uuid.uuid4()), "type": "order.created", "source": "orders",
        "occurred_at": "2026-01-01T00:00:00+00:00", "request_id": None, "saga_id": None,
        "step": None, "payload": {"customer": marker}})
    _publish(stack, "events.order.created", envelope)
    _publish(stack, "events.order.created", envelope)
    _eventually(lambda: _received(stack, "stock", marker), 120, "stock to receive it")
    time.sleep(5)  # room for the duplicate to arrive, and to be skipped
    assert len(_received(stack, "stock", marker)) == 1
    processed = stack.client.get("/api/stock/events/processed", params={"limit": 1000}).json()
    ids = [p["id"] if isinstance(p, dict) else p
           for p in (processed["items"] if isinstance(processed, dict) else processed)]
    assert ids.count(json.loads(envelope)["id"]) == 1


def test_a_poison_message_ends_in_the_dead_letter_queue(stack: Stack) -> None:
    marker = f"poison-{uuid.uuid4().hex[:8]}"
    _publish(stack, "events.order.created", "{not json " + marker)
    bus = stack.container("bus")

    def dead_lettered() -> bool:
        if stack.bus == "kafka":
            _, output = bus.exec_run([
                "/opt/kafka/bin/kafka-console-consumer.sh", "--bootstrap-server", "localhost:9092",
                "--topic", "stock.dlq", "--from-beginning", "--timeout-ms", "5000"])
            return marker in output.decode(errors="replace")
        _, output = bus.exec_run(["rabbitmqctl", "-q", "list_queues", "name", "messages"])
        rows = dict(line.split()[:2] for line in output.decode().splitlines()
                    if len(line.split()) >= 2)
        return rows.get("stock.dlq", "0") not in ("0", "messages")

    _eventually(dead_lettered, 180, "the poison message in stock.dlq")
    assert stack.client.get("/healthz").status_code == 200
    assert stack.client.get("/api/stock/items").status_code == 200  # the consumer lives on


def test_each_services_own_suite_passes_inside_the_stack(stack: Stack) -> None:
    """`make test`: every service's test stage (profile test) against its own database."""
    jobs = [f"{service}-test" for service in (*SERVICES, "sagas")]
    archgen("up", "--wait", "--timeout", "900", *jobs, cwd=stack.project, timeout=1200)

    def finished() -> dict[str, dict[str, Any]] | None:
        rows = {row["service"]: row for row in json.loads(
            archgen("status", "--json", cwd=stack.project).stdout)}
        done = all(rows.get(job, {}).get("state", "").startswith("exited") for job in jobs)
        return rows if done else None

    rows = _eventually(finished, 900, "every service's test stage to finish")
    for job in jobs:
        logs = archgen("logs", job, "--tail", "5", cwd=stack.project).stdout
        assert rows[job]["exit_code"] == 0, logs
        assert " passed" in logs.strip().splitlines()[-1] and "failed" not in logs, logs
