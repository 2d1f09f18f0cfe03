"""wechatpy session values (the access tokens) in the database, shared by every process."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from wechatpy.session import SessionStorage

from core.clock import utcnow
from models.base import db, write_tx
from models.wechat import SharedValue

log = logging.getLogger("bot.clients")  # the package's one logger, whichever module logs


@dataclass(frozen=True)
class StoredValue:
    """Hold one stored value and its expiry (None: no expiry); the value stays out of repr."""

    value: Any = field(repr=False)
    expires_at: datetime | None

    def valid_for(self, margin: timedelta) -> bool:
        """Tell whether the value stays valid for at least ``margin`` from now."""
        return self.expires_at is None or self.expires_at - utcnow() > margin


@dataclass(frozen=True)
class Token:
    """Hold an access token (kept out of repr) and its expiry."""

    value: str = field(repr=False)
    expires_at: datetime


@contextmanager
def connection() -> Iterator[None]:
    """Use the caller's open connection, or hold a short one for this call only."""
    if db.is_closed():
        with db.connection_context():
            yield
    else:
        yield


class DatabaseStorage(SessionStorage):
    """Keep wechatpy session values in SharedValue, shared by every process; JSON-encoded."""

    def entry(self, key: str) -> StoredValue | None:
        """Return the live value of ``key`` with its expiry, or None when missing or expired."""
        with connection():
            row = SharedValue.get_or_none(SharedValue.key == key)
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= utcnow():
            return None
        try:
            value = json.loads(row.value)
        except ValueError:
            log.warning("Shared value %s is not valid JSON; treating it as missing", key)
            return None
        return StoredValue(value, row.expires_at)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the live value of ``key``, or ``default``."""
        entry = self.entry(key)
        return default if entry is None else entry.value

    def set(self, key: str, value: Any, ttl: int | float | None = None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (None: without expiry)."""
        expires_at = None if ttl is None else utcnow() + timedelta(seconds=max(ttl, 0))
        self.put(key, value, expires_at)

    def put(self, key: str, value: Any, expires_at: datetime | None) -> None:
        """Store ``value`` under ``key`` until ``expires_at`` (None: without expiry)."""
        encoded = json.dumps(value, ensure_ascii=False)
        now = utcnow()
        with connection(), write_tx():
            SharedValue.insert(
                key=key, value=encoded, expires_at=expires_at, updated_at=now
            ).on_conflict(
                conflict_target=[SharedValue.key],
                update={
                    SharedValue.value: encoded,
                    SharedValue.expires_at: expires_at,
                    SharedValue.updated_at: now,
                },
            ).execute()

    def delete(self, key: str) -> None:
        """Remove ``key``."""
        with connection(), write_tx():
            SharedValue.delete().where(SharedValue.key == key).execute()

    def discard(self, key: str, value: Any) -> bool:
        """Remove ``key`` only while it still holds ``value``; tell whether it did."""
        encoded = json.dumps(value, ensure_ascii=False)
        with connection(), write_tx():
            deleted = (
                SharedValue.delete()
                .where((SharedValue.key == key) & (SharedValue.value == encoded))
                .execute()
            )
        return deleted > 0
