"""Model layer: one repository per entity over the configured database engine."""

import importlib

from app.models.base import DatabaseUnavailable, Record, Repository, Store
from app.models.entity import Entity, Field

ENGINE_MODULES = {
    "mongodb": "app.models.mongo",
    "postgres": "app.models.postgres",
    "mysql": "app.models.mysql",
    "redis": "app.models.redis_store",
    "neo4j": "app.models.neo4j_store",
    "elasticsearch": "app.models.elasticsearch",
    "solr": "app.models.solr",
    "none": "app.models.memory",
}
"""The module of each engine; archgen renders only the one the spec names."""


def open_store(
    engine: str, url: str, entities: tuple[Entity, ...], read_url: str | None = None
) -> Store:
    """Return the store for `engine`; only that engine's module and driver are imported.

    `read_url` (PostgreSQL only) names standbys that serve lists. Nothing connects
    here: the first query (or `Store.check`) opens connections.
    """
    name = ENGINE_MODULES.get(engine)
    if name is None:
        raise ValueError(f"unknown database engine {engine!r}")
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise  # its driver is not installed
        raise ValueError(f"this application was rendered without {engine} support") from None
    store: Store = module.open_store(url, entities, read_url=read_url)
    return store


__all__ = [
    "DatabaseUnavailable",
    "Entity",
    "Field",
    "Record",
    "Repository",
    "Store",
    "open_store",
]
