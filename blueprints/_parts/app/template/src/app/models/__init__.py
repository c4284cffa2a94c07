"""Model layer: one repository per entity over the configured database engine."""

from app.models.base import DatabaseUnavailable, Record, Repository, Store
from app.models.entity import Entity, Field


def open_store(
    engine: str, url: str, entities: tuple[Entity, ...], read_url: str | None = None
) -> Store:
    """Return the store for `engine`; only that engine's driver is imported.

    `read_url` (PostgreSQL only) names standbys that serve lists. Nothing connects
    here: the first query (or `Store.check`) opens connections.
    """
    if engine == "mongodb":
        from app.models.mongo import MongoStore

        return MongoStore(url, entities)
    from app.models.sql import SqlStore

    return SqlStore(engine, url, entities, read_url=read_url)


__all__ = [
    "DatabaseUnavailable",
    "Entity",
    "Field",
    "Record",
    "Repository",
    "Store",
    "open_store",
]
