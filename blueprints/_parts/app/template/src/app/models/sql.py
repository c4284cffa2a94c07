"""SQL repositories over a small connection pool; what differs per engine is a Dialect.

The dialects live in their own modules (postgres.py, mysql.py), and archgen renders
only the one the spec names, so only its driver is needed, imported and type-checked.
"""

import json
import logging
import queue
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from app.models.base import DatabaseUnavailable, Record, Repository, Store, full_record
from app.models.entity import Entity, Field

log = logging.getLogger(__name__)

CREATED = "_created"
"""Insertion time; lists are ordered by (_created, id) so pages are stable."""


class Dialect(ABC):
    """What differs between the two SQL engines. Both drivers use `%s` placeholders."""

    column_types: ClassVar[dict[str, str]]
    errors: tuple[type[Exception], ...]
    """Driver errors meaning "the database is unreachable" (answered as 503)."""

    @abstractmethod
    def connect(self, url: str) -> Any: ...

    @abstractmethod
    def quote(self, name: str) -> str: ...

    @abstractmethod
    def schema_statements(self, entity: Entity) -> list[str]:
        """Idempotent DDL creating the entity's table and indexes."""

    position_query: ClassVar[str | None] = None
    """On the primary: its current write position (None: no read replicas for this engine)."""
    caught_up_query: ClassVar[str] = ""
    """On a read connection, with that position: true if it may answer (caught up, or primary)."""

    def encode(self, field: Field, value: Any) -> Any:
        if value is None:
            return None
        if field.is_list:
            return json.dumps(value)
        if field.type == "datetime":
            return as_utc(value)
        return value

    def decode(self, field: Field, value: Any) -> Any:
        if value is None:
            return None
        if field.is_list:
            return json.loads(value) if isinstance(value, (str, bytes)) else value
        if field.type == "bool":
            return bool(value)
        if field.type == "datetime":
            return as_utc(value)
        return value


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def columns(dialect: Dialect, entity: Entity) -> str:
    types = dialect.column_types
    columns = [f"id {types['id']} PRIMARY KEY", f"{dialect.quote(CREATED)} {types['created']} NOT NULL"]
    for field in entity.fields:
        kind = types["list" if field.is_list else field.type]
        columns.append(f"{dialect.quote(field.name)} {kind}{' NOT NULL' if field.required else ''}")
    return ", ".join(columns)


class Pool:
    """A bounded, thread-safe pool: one transaction per checkout, committed on success.

    A connection that raised is closed rather than returned; one idle for more than a
    few seconds is pinged before reuse, so a database restart costs at most the
    requests already under way.
    """

    def __init__(self, dialect: Dialect, url: str, size: int = 10, wait_seconds: float = 10.0):
        self._dialect = dialect
        self._url = url
        self._wait = wait_seconds
        self._slots = threading.BoundedSemaphore(size)
        self._idle: queue.LifoQueue[tuple[Any, float]] = queue.LifoQueue()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        if not self._slots.acquire(timeout=self._wait):
            raise DatabaseUnavailable(f"no free database connection within {self._wait:g} s")
        try:
            conn = self._checkout()
            try:
                yield conn
                conn.commit()
            except BaseException:
                _close_quietly(conn)
                raise
            self._idle.put((conn, time.monotonic()))
        except self._dialect.errors as exc:
            raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._slots.release()

    def _checkout(self) -> Any:
        while True:
            try:
                conn, since = self._idle.get_nowait()
            except queue.Empty:
                return self._dialect.connect(self._url)
            if time.monotonic() - since < 5:
                return conn
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                    cur.fetchall()
                conn.rollback()
                return conn
            except self._dialect.errors:
                _close_quietly(conn)

    def close(self) -> None:
        while True:
            try:
                conn, _ = self._idle.get_nowait()
            except queue.Empty:
                return
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # already broken: nothing left to release
        log.debug("closing a broken connection failed", exc_info=True)


class SqlRepository(Repository):
    def __init__(self, store: "SqlStore", entity: Entity):
        self._store = store
        self._entity = entity
        q = store.dialect.quote
        self._table = q(entity.plural)
        self._select = ", ".join(["id", *(q(name) for name in entity.field_names)])

    def _row(self, row: Any) -> Record:
        record: Record = {"id": row[0]}
        for field, value in zip(self._entity.fields, row[1:], strict=True):
            record[field.name] = self._store.dialect.decode(field, value)
        return record

    def _values(self, data: dict[str, Any]) -> list[Any]:
        encode = self._store.dialect.encode
        return [encode(field, data[field.name]) for field in self._entity.fields if field.name in data]

    def list(self, limit: int, offset: int) -> tuple[list[Record], int]:
        created = self._store.dialect.quote(CREATED)
        with self._store.read_cursor() as cur:
            cur.execute(f"SELECT COUNT(*) FROM {self._table}")
            total = int(cur.fetchone()[0])
            cur.execute(
                f"SELECT {self._select} FROM {self._table}"
                f" ORDER BY {created}, id LIMIT %s OFFSET %s",
                (limit, offset),
            )
            rows = cur.fetchall()
        return [self._row(row) for row in rows], total

    def get(self, item_id: str) -> Record | None:
        with self._store.cursor() as cur:
            return self._fetch(cur, item_id)

    def _fetch(self, cur: Any, item_id: str) -> Record | None:
        cur.execute(f"SELECT {self._select} FROM {self._table} WHERE id = %s", (item_id,))
        row = cur.fetchone()
        return None if row is None else self._row(row)

    def create(self, data: dict[str, Any]) -> Record:
        q = self._store.dialect.quote
        record = full_record(self._entity, data)
        item_id = uuid.uuid4().hex
        names = ", ".join(["id", q(CREATED), *(q(name) for name in self._entity.field_names)])
        marks = ", ".join(["%s"] * (2 + len(self._entity.fields)))
        created = self._store.dialect.encode(Field(CREATED, "datetime"), datetime.now(UTC))
        with self._store.cursor() as cur:
            cur.execute(
                f"INSERT INTO {self._table} ({names}) VALUES ({marks})",
                [item_id, created, *self._values(record)],
            )
        return {"id": item_id, **record}

    def replace(self, item_id: str, data: dict[str, Any]) -> Record | None:
        return self.update(item_id, full_record(self._entity, data))

    def update(self, item_id: str, changes: dict[str, Any]) -> Record | None:
        q = self._store.dialect.quote
        names = [field.name for field in self._entity.fields if field.name in changes]
        with self._store.cursor() as cur:
            if names:
                assignments = ", ".join(f"{q(name)} = %s" for name in names)
                cur.execute(
                    f"UPDATE {self._table} SET {assignments} WHERE id = %s",
                    [*self._values(changes), item_id],
                )
            # MySQL counts only rows whose values changed, so re-read instead of rowcount.
            return self._fetch(cur, item_id)

    def delete(self, item_id: str) -> bool:
        with self._store.cursor() as cur:
            cur.execute(f"DELETE FROM {self._table} WHERE id = %s", (item_id,))
            return bool(cur.rowcount)


class SqlStore(Store):
    """Tables on one primary; with `read_url`, lists are read from a standby.

    Read/write split with read-your-writes: writes, and reads by id (what a client does
    right after writing), go to the primary. A list goes to a read connection (a standby,
    or the primary when no standby answers) only once that connection has replayed
    everything the primary had committed when the list was asked for; otherwise, or if
    no read connection can be had, the list is read from the primary. So a list never
    misses a write that finished before it was requested, and the cached copy of a list
    is never older than the write that invalidated the cache.
    """

    REPLICA_WAIT = (0.0, 0.01, 0.02, 0.05)
    """Seconds to wait before each look at a lagging standby, before using the primary."""

    def __init__(
        self, dialect: Dialect, url: str, entities: tuple[Entity, ...], read_url: str | None = None
    ):
        self.dialect = dialect
        if read_url is not None and self.dialect.position_query is None:
            raise ValueError(f"read replicas are not supported for {type(dialect).__name__}")
        self._entities = entities
        self._pool = Pool(self.dialect, url)
        self._reads = Pool(self.dialect, read_url) if read_url is not None else None
        self._repositories = {entity.name: SqlRepository(self, entity) for entity in entities}
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            with self._pool.connection() as conn, conn.cursor() as cur:
                for entity in self._entities:
                    for statement in self.dialect.schema_statements(entity):
                        cur.execute(statement)
            self._schema_ready = True
            log.info("database schema ready", extra={"tables": [e.plural for e in self._entities]})

    @contextmanager
    def cursor(self) -> Iterator[Any]:
        self._ensure_schema()
        with self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    @contextmanager
    def read_cursor(self) -> Iterator[Any]:
        """A cursor for a read that may be served by a caught-up standby (see the class)."""
        if self._reads is not None and self.dialect.position_query is not None:
            self._ensure_schema()
            with self._pool.connection() as conn, conn.cursor() as cur:
                cur.execute(self.dialect.position_query)
                position = cur.fetchone()[0]
            inside = False
            try:
                with self._reads.connection() as conn, conn.cursor() as cur:
                    if self._caught_up(cur, position):
                        inside = True
                        yield cur
                        return
                log.info("read replica behind the primary; reading from the primary")
            except DatabaseUnavailable as exc:
                if inside:
                    raise
                log.warning("read replica unavailable; reading from the primary", extra={"error": str(exc)})
        with self.cursor() as cur:
            yield cur

    def _caught_up(self, cur: Any, position: str) -> bool:
        for pause in self.REPLICA_WAIT:
            time.sleep(pause)
            cur.execute(self.dialect.caught_up_query, (position,))
            if cur.fetchone()[0]:
                return True
        return False

    def check(self) -> None:
        with self.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchall()

    def repository(self, entity: Entity) -> Repository:
        return self._repositories[entity.name]

    def close(self) -> None:
        self._pool.close()
        if self._reads is not None:
            self._reads.close()
