"""MongoDB repositories (pymongo): one collection per entity, ObjectId strings as ids."""

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, MongoClient, ReturnDocument
from pymongo.errors import ConnectionFailure

from app.models.base import DatabaseUnavailable, Record, Repository, Store, full_record
from app.models.entity import Entity

log = logging.getLogger(__name__)

CREATED = "_created"
"""Insertion time; lists are ordered by (_created, _id) so pages are stable."""


@contextmanager
def _unavailable() -> Iterator[None]:
    """Turn pymongo's connection errors into DatabaseUnavailable."""
    try:
        yield
    except ConnectionFailure as exc:
        raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc


def _object_id(item_id: str) -> ObjectId | None:
    return ObjectId(item_id) if ObjectId.is_valid(item_id) else None


class MongoRepository(Repository):
    def __init__(self, store: "MongoStore", entity: Entity):
        self._store = store
        self._entity = entity
        self._projection = {name: 1 for name in entity.field_names}

    @property
    def _collection(self) -> Any:
        self._store.ensure_schema()
        return self._store.db[self._entity.plural]

    def _record(self, document: dict[str, Any]) -> Record:
        record: Record = {"id": str(document["_id"])}
        for name in self._entity.field_names:
            value = document.get(name)
            if isinstance(value, datetime) and value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            record[name] = value
        return record

    def list(self, limit: int, offset: int) -> tuple[list[Record], int]:
        with _unavailable():
            collection = self._collection
            total = collection.count_documents({})
            cursor = (
                collection.find({}, self._projection)
                .sort([(CREATED, ASCENDING), ("_id", ASCENDING)])
                .skip(offset)
                .limit(limit)
            )
            return [self._record(document) for document in cursor], total

    def get(self, item_id: str) -> Record | None:
        oid = _object_id(item_id)
        if oid is None:
            return None
        with _unavailable():
            document = self._collection.find_one({"_id": oid}, self._projection)
        return None if document is None else self._record(document)

    def create(self, data: dict[str, Any]) -> Record:
        record = full_record(self._entity, data)
        with _unavailable():
            result = self._collection.insert_one({CREATED: datetime.now(UTC), **record})
        return {"id": str(result.inserted_id), **record}

    def replace(self, item_id: str, data: dict[str, Any]) -> Record | None:
        return self.update(item_id, full_record(self._entity, data))

    def update(self, item_id: str, changes: dict[str, Any]) -> Record | None:
        changes = {name: changes[name] for name in self._entity.field_names if name in changes}
        if not changes:
            return self.get(item_id)
        oid = _object_id(item_id)
        if oid is None:
            return None
        with _unavailable():
            document = self._collection.find_one_and_update(
                {"_id": oid},
                {"$set": changes},
                projection=self._projection,
                return_document=ReturnDocument.AFTER,
            )
        return None if document is None else self._record(document)

    def delete(self, item_id: str) -> bool:
        oid = _object_id(item_id)
        if oid is None:
            return False
        with _unavailable():
            return bool(self._collection.delete_one({"_id": oid}).deleted_count)


class MongoStore(Store):
    def __init__(self, url: str, entities: tuple[Entity, ...]):
        # MongoClient is thread-safe, pools connections and connects lazily.
        self._client: MongoClient[dict[str, Any]] = MongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=3000
        )
        self.db = self._client.get_default_database(default="app")
        self._entities = entities
        self._repositories = {entity.name: MongoRepository(self, entity) for entity in entities}
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock, _unavailable():
            if self._schema_ready:
                return
            for entity in self._entities:
                # Idempotent: an identical existing index is left as it is.
                self.db[entity.plural].create_index(
                    [(CREATED, ASCENDING), ("_id", ASCENDING)], name=f"ix_{entity.plural}_created"
                )
            self._schema_ready = True
            log.info("database schema ready", extra={"collections": [e.plural for e in self._entities]})

    def check(self) -> None:
        self.ensure_schema()
        with _unavailable():
            self._client.admin.command("ping")

    def repository(self, entity: Entity) -> Repository:
        return self._repositories[entity.name]

    def close(self) -> None:
        self._client.close()

