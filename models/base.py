"""Deferred database, the base model and the timezone-safe datetime field."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlparse

from peewee import (
    Database,
    DatabaseProxy,
    DateTimeField,
    Model,
    SqliteDatabase,
)
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from core.clock import UTC
from models.writegate import WriteGate

log = logging.getLogger(__name__)

db = DatabaseProxy()


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class UTCDateTimeField(DateTimeField):
    """Store aware datetimes as naive UTC; read them back aware in UTC."""

    def db_value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{self.name}: naive datetime refused, use an aware one")
            value = value.astimezone(UTC).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value: Any) -> Any:
        value = super().python_value(value)
        if isinstance(value, datetime):
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value


# Connections are pooled: a request borrows one and gives it back. Opening a SQLite connection
# per request costs PRAGMAs, and closing the last one checkpoints and deletes the WAL file.
POOL_SIZE = 32  # database.pool_size's default
POOL_STALE_SECONDS = 300


class ZhibuSqliteDatabase(PooledSqliteDatabase):
    """Pooled SQLite that queues its writers through a WriteGate."""

    write_gate: WriteGate | None = None


def open_database(
    url: str,
    lock_timeout: float = 2.0,
    connect_timeout: int | None = None,
    pool_size: int = POOL_SIZE,
) -> Database:
    """Build (not connect) a peewee database from a sqlite:/// or postgresql:// URL; a new
    PostgreSQL connection gives up after ``connect_timeout`` seconds (None: libpq's default,
    no limit); each process pools up to ``pool_size`` connections."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        database = ZhibuSqliteDatabase(
            path,
            max_connections=pool_size,
            stale_timeout=POOL_STALE_SECONDS,
            timeout=lock_timeout,  # how long to wait for a pooled connection
            check_same_thread=False,  # a pooled connection serves one thread at a time
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "synchronous": "normal",
                "busy_timeout": int(lock_timeout * 1000),
            },
        )
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            database.write_gate = WriteGate(os.path.abspath(path), lock_timeout)
        return database
    parsed = urlparse(url)
    limits = {"connect_timeout": connect_timeout} if connect_timeout else {}
    return PooledPostgresqlDatabase(
        parsed.path.lstrip("/"),
        user=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
        host=parsed.hostname or None,
        port=parsed.port or 5432,
        max_connections=pool_size,
        stale_timeout=POOL_STALE_SECONDS,
        timeout=lock_timeout,
        # A lock held longer than the timeout fails the statement instead of
        # making WeChat wait past its 5 s deadline.
        options=f"-c lock_timeout={int(lock_timeout * 1000)}",
        **limits,
    )


def is_sqlite() -> bool:
    """Tell whether the bound database is SQLite."""
    return isinstance(db.obj, SqliteDatabase)


_commits = threading.local()


def commits() -> int:
    """How many write transactions this thread has committed (a request tells by it whether it
    has written anything yet, and so whether running it again could write twice)."""
    return getattr(_commits, "count", 0)


@contextmanager
def write_tx() -> Iterator[Any]:
    """Open a short write transaction; SQLite takes the write lock up front (IMMEDIATE)."""
    outermost = not db.in_transaction()
    with _write_tx() as tx:
        yield tx
    if outermost:
        _commits.count = commits() + 1


@contextmanager
def _write_tx() -> Iterator[Any]:
    if not is_sqlite():
        with db.atomic() as tx:
            yield tx
        return
    gate = getattr(db.obj, "write_gate", None)
    if gate is None:
        with db.atomic("IMMEDIATE") as tx:
            yield tx
        return
    with gate.hold(), db.atomic("IMMEDIATE") as tx:
        yield tx
