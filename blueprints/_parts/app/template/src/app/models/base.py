"""What every storage engine offers the controllers."""

from abc import ABC, abstractmethod
from typing import Any

from app.models.entity import Entity

Record = dict[str, Any]
"""A stored item: `{"id": "<string id>", <field>: <value>, ...}`."""


class DatabaseUnavailable(Exception):
    """The database could not be reached or dropped the connection (answered as 503)."""


class Repository(ABC):
    """Data access for one entity. Missing ids give None / False, never an exception."""

    @abstractmethod
    def list(self, limit: int, offset: int) -> tuple[list[Record], int]:
        """Return one page in insertion order, and the total number of items."""

    @abstractmethod
    def get(self, item_id: str) -> Record | None: ...

    @abstractmethod
    def create(self, data: dict[str, Any]) -> Record: ...

    @abstractmethod
    def replace(self, item_id: str, data: dict[str, Any]) -> Record | None:
        """Set every field (absent optional fields become null)."""

    @abstractmethod
    def update(self, item_id: str, changes: dict[str, Any]) -> Record | None:
        """Set only the fields in `changes`."""

    @abstractmethod
    def delete(self, item_id: str) -> bool: ...


class Store(ABC):
    """A database holding one table or collection per entity."""

    @abstractmethod
    def check(self) -> None:
        """Create missing tables/indexes (once) and ping; raise DatabaseUnavailable if down."""

    @abstractmethod
    def repository(self, entity: Entity) -> Repository: ...

    @abstractmethod
    def close(self) -> None: ...


def full_record(entity: Entity, data: dict[str, Any]) -> dict[str, Any]:
    """Every field of `entity`, taken from `data`; absent ones are None."""
    return {name: data.get(name) for name in entity.field_names}
