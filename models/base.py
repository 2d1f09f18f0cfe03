"""Deferred database, the base model and the timezone-safe datetime field."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlparse

from peewee import (
    Database,
    DatabaseProxy,
    DateTimeField,
    Model,
    PostgresqlDatabase,
    SqliteDatabase,
)

from core.clock import UTC

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


def open_database(url: str, lock_timeout: float = 2.0) -> Database:
    """Build (not connect) a peewee database from a sqlite:/// or postgresql:// URL."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        return SqliteDatabase(
            path,
            timeout=lock_timeout,
            pragmas={
                "journal_mode": "wal",
                "foreign_keys": 1,
                "synchronous": "normal",
                "busy_timeout": int(lock_timeout * 1000),
            },
        )
    parsed = urlparse(url)
    return PostgresqlDatabase(
        parsed.path.lstrip("/"),
        user=unquote(parsed.username) if parsed.username else None,
        password=unquote(parsed.password) if parsed.password else None,
        host=parsed.hostname or None,
        port=parsed.port or 5432,
        # A lock held longer than the timeout fails the statement instead of
        # making WeChat wait past its 5 s deadline.
        options=f"-c lock_timeout={int(lock_timeout * 1000)}",
    )


def is_sqlite() -> bool:
    """Tell whether the bound database is SQLite."""
    return isinstance(db.obj, SqliteDatabase)


def write_tx() -> Any:
    """Open a short write transaction; SQLite takes the write lock up front (IMMEDIATE)."""
    return db.atomic("IMMEDIATE") if is_sqlite() else db.atomic()
