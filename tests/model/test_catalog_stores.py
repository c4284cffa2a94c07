"""The catalog's contract for the databases a microservice may own beyond SQL and MongoDB."""

from __future__ import annotations

import pytest

from archgen.catalog import app_password, app_url, server_command, server_environment
from archgen.variables import NEO4J_PASSWORD, REDIS_PASSWORD, Secret


@pytest.mark.parametrize(("kind", "expected"), [
    ("redis", "redis://orders-db:6379/0"),
    ("neo4j", "bolt://neo4j@orders-db:7687"),
    ("elasticsearch", "http://orders-db:9200/orders"),
    ("solr", "http://orders-db:8983/solr/orders"),
])
def test_app_urls(kind: str, expected: str) -> None:
    port = {"redis": 6379, "neo4j": 7687, "elasticsearch": 9200, "solr": 8983}[kind]
    url = app_url(kind, [f"orders-db:{port}"], "0" if kind == "redis" else "orders", "orders")
    assert url == expected  # no password: the app reads it from its secret file


def test_secrets_are_references_never_values() -> None:
    neo4j = dict(server_environment("neo4j", "orders", "orders"))
    assert neo4j == {"NEO4J_PASSWORD_FILE": NEO4J_PASSWORD}
    assert dict(server_environment("redis", "0", "orders"))["REDIS_PASSWORD_FILE"] == REDIS_PASSWORD
    assert isinstance(NEO4J_PASSWORD, Secret) and app_password("neo4j") == NEO4J_PASSWORD


def test_engines_without_users_say_so_by_having_none() -> None:
    assert dict(server_environment("elasticsearch", "orders", "orders"))["xpack.security.enabled"] == "false"
    assert server_environment("solr", "orders", "orders") == ()
    assert server_command("solr", "orders") == ("solr-precreate", "orders")
    assert server_command("postgres", "orders") is None
