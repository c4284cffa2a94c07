"""CRUD, pagination, validation, 404s and caching of every resource."""

import uuid

import pytest
from fastapi.testclient import TestClient
from redis import Redis

from app.models import Entity
from app.settings import Settings
from tests.integration.conftest import CACHE_TTL, Items
from tests.samples import INVALID, assert_matches, sample_payload, sample_value

pytestmark = pytest.mark.integration

MISSING_IDS = ("0123456789abcdef01234567", uuid.uuid4().hex, "no-such-id")
"""Well-formed for MongoDB, well-formed for SQL, and malformed for both."""


def test_round_trip(client: TestClient, entity: Entity, items: Items) -> None:
    payload = sample_payload(entity)
    created = client.post(items.url, json=payload)
    assert created.status_code == 201, created.text
    body = created.json()
    items.created.append(body["id"])
    assert isinstance(body["id"], str) and body["id"]
    assert created.headers["Location"] == f"{items.url}/{body['id']}"
    assert_matches(entity, payload, body)

    url = created.headers["Location"]
    fetched = client.get(url)
    assert fetched.status_code == 200
    assert fetched.json()["id"] == body["id"]
    assert_matches(entity, payload, fetched.json())

    # PUT replaces everything: optional fields left out become null.
    replacement = sample_payload(entity, variant=1, optional=False)
    replaced = client.put(url, json=replacement)
    assert replaced.status_code == 200, replaced.text
    assert_matches(entity, replacement, replaced.json())
    assert_matches(entity, replacement, client.get(url).json())

    # PATCH changes only what it names.
    current = client.get(url).json()
    for field in entity.fields:
        change = {field.name: sample_value(field, variant=2)}
        patched = client.patch(url, json=change)
        assert patched.status_code == 200, patched.text
        current.update(change)
        assert_matches(entity, current, patched.json())
        assert_matches(entity, current, client.get(url).json())
    assert client.patch(url, json={}).status_code == 200

    deleted = client.delete(url)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404


def test_unknown_ids_are_404_with_a_json_detail(client: TestClient, entity: Entity) -> None:
    base = f"/api/{entity.plural}"
    full = sample_payload(entity)
    for item_id in MISSING_IDS:
        url = f"{base}/{item_id}"
        for response in (
            client.get(url),
            client.put(url, json=full),
            client.patch(url, json={}),
            client.delete(url),
        ):
            assert response.status_code == 404, (response.request.method, item_id)
            assert response.headers["content-type"] == "application/json"
            assert item_id in response.json()["detail"]


def test_pagination(client: TestClient, entity: Entity, items: Items) -> None:
    before = client.get(items.url, params={"limit": 1}).json()["total"]
    ids = [items.create(sample_payload(entity, variant=i))["id"] for i in range(3)]

    first = client.get(items.url, params={"limit": 2, "offset": before})
    assert first.status_code == 200
    page = first.json()
    assert (page["total"], page["limit"], page["offset"]) == (before + 3, 2, before)
    assert [item["id"] for item in page["items"]] == ids[:2]

    rest = client.get(items.url, params={"limit": 2, "offset": before + 2}).json()
    assert [item["id"] for item in rest["items"]] == ids[2:]

    default = client.get(items.url).json()
    assert (default["limit"], default["offset"]) == (20, 0)
    assert len(default["items"]) == min(20, before + 3)
    assert client.get(items.url, params={"limit": 100}).status_code == 200
    for bad in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"limit": "many"}):
        response = client.get(items.url, params=bad)
        assert response.status_code == 422, bad
        assert [error["loc"] for error in response.json()["detail"]] == [["query", *bad]]


def test_validation_errors_name_the_field(client: TestClient, entity: Entity, items: Items) -> None:
    item = items.create(sample_payload(entity))
    url = f"{items.url}/{item['id']}"
    for field in entity.fields:
        wrong = sample_payload(entity)
        wrong[field.name] = [sample_value(field)[0], INVALID] if field.is_list else INVALID
        expected = ["body", field.name, 1] if field.is_list else ["body", field.name]
        for response in (client.post(items.url, json=wrong), client.put(url, json=wrong)):
            assert response.status_code == 422
            assert expected in [error["loc"] for error in response.json()["detail"]]
        if field.required:
            incomplete = sample_payload(entity)
            del incomplete[field.name]
            response = client.post(items.url, json=incomplete)
            assert response.status_code == 422
            assert [error["loc"] for error in response.json()["detail"]] == [["body", field.name]]
            nulled = client.patch(url, json={field.name: None})
            assert nulled.status_code == 422
            assert [error["loc"] for error in nulled.json()["detail"]] == [["body", field.name]]
    unknown = client.patch(url, json={"no_such_field": 1})
    assert unknown.status_code == 422
    assert [error["loc"] for error in unknown.json()["detail"]] == [["body", "no_such_field"]]
    malformed = client.post(items.url, content=b"{not json", headers={"content-type": "application/json"})
    assert malformed.status_code == 422
    # Nothing invalid was stored.
    assert_matches(entity, item, client.get(url).json())


def test_reads_are_cached_until_a_write(
    client: TestClient, entity: Entity, items: Items, redis_client: Redis, settings: Settings
) -> None:
    item = items.create(sample_payload(entity))
    url = f"{items.url}/{item['id']}"
    list_params = {"limit": 5, "offset": 0}

    assert client.get(url).headers["X-Cache"] == "MISS"
    hit = client.get(url)
    assert hit.headers["X-Cache"] == "HIT"
    assert hit.json() == item
    assert client.get(items.url, params=list_params).headers["X-Cache"] == "MISS"
    listed = client.get(items.url, params=list_params)
    assert listed.headers["X-Cache"] == "HIT"

    # The entries really are TTL data in Redis, under the entity's current version.
    version = redis_client.get(f"{settings.name}:cache-version:{entity.plural}")
    assert isinstance(version, bytes), "the create above set a version"
    prefix = f"{settings.name}:cache:{entity.plural}:v{version.decode()}"
    for key in (f"{prefix}:item:{item['id']}", f"{prefix}:list:5:0"):
        assert 0 < redis_client.ttl(key) <= CACHE_TTL, key

    # Each kind of write makes the next read of item and list a MISS with fresh data.
    writes = [
        ("POST", items.url, sample_payload(entity, variant=1)),
        ("PUT", url, sample_payload(entity, variant=1)),
        *(("PATCH", url, {field.name: sample_value(field, variant=2)}) for field in entity.fields),
    ]
    expected = dict(item)
    for method, target, payload in writes:
        response = client.request(method, target, json=payload)
        assert response.status_code in (200, 201), response.text
        if method == "POST":
            items.created.append(response.json()["id"])
        else:
            expected.update(payload)
        fresh = client.get(url)
        assert fresh.headers["X-Cache"] == "MISS", method
        assert_matches(entity, expected, fresh.json())
        assert client.get(url).headers["X-Cache"] == "HIT"
        assert client.get(items.url, params=list_params).headers["X-Cache"] == "MISS", method
        assert client.get(items.url, params=list_params).headers["X-Cache"] == "HIT"

    assert client.delete(url).status_code == 204
    gone = client.get(url)
    assert gone.status_code == 404
    assert "X-Cache" not in gone.headers
