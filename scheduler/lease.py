"""A database lease: at most one scheduler process runs jobs; a second one waits idle."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from peewee import IntegrityError

from handlers.jobs import LEASE_KEY, current_holder
from models.base import db, write_tx
from models.wechat import SharedValue

__all__ = ["LEASE_KEY", "acquire", "current_holder", "holder_id", "release"]


def holder_id() -> str:
    """Name this process uniquely: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(holder: str, now: datetime, ttl_seconds: int) -> bool:
    """Take or renew the lease; True if this holder has it until now + ttl."""
    until = now + timedelta(seconds=ttl_seconds)
    with write_tx():
        taken = (
            SharedValue.update(value=holder, expires_at=until, updated_at=now)
            .where(
                SharedValue.key == LEASE_KEY,
                (SharedValue.value == holder) | (SharedValue.expires_at < now),
            )
            .execute()
        )
        if taken:
            return True
        if SharedValue.select().where(SharedValue.key == LEASE_KEY).exists():
            return False
        try:
            with db.atomic():
                SharedValue.create(key=LEASE_KEY, value=holder, expires_at=until, updated_at=now)
        except IntegrityError:
            return False  # another process created it a moment ago
    return True


def release(holder: str) -> None:
    """Give the lease up at a clean shutdown, so a standby takes over at once."""
    with write_tx():
        SharedValue.delete().where(
            SharedValue.key == LEASE_KEY, SharedValue.value == holder
        ).execute()
