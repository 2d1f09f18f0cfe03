"""Housekeeping: drop rows that only matter for a short while (dedupe, rate windows, sessions).

Deletes go in chunks of ``CHUNK`` rows, each its own short write transaction, so a large
backlog never holds SQLite's write lock for long while callbacks wait.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from peewee import Expression, ModelBase

from core.config import Settings
from models.api import ApiSession
from models.base import write_tx
from models.console import ConsoleLogin, ConsoleSession
from models.wechat import InboundMessage, RateEvent

log = logging.getLogger(__name__)

CHUNK = 5000
# The longest rate window is an hour (wrong binding / sign-in codes): a day is plenty.
RATE_EVENT_KEEP = timedelta(days=1)
LOGIN_KEEP = timedelta(days=1)


def _delete(model: ModelBase, cond: Expression) -> int:
    """Delete the rows matching cond, CHUNK at a time; return how many went."""
    total = 0
    while True:
        with write_tx():
            ids = [r.id for r in model.select(model.id).where(cond).limit(CHUNK)]
            if ids:
                model.delete().where(model.id.in_(ids)).execute()
        total += len(ids)
        if len(ids) < CHUNK:
            return total


def prune(now: datetime, settings: Settings) -> dict[str, int]:
    """Delete callback dedupe rows past their use, old rate events, dead API and console
    sessions and old console logins."""
    keep = settings.scheduler
    removed = {
        "inbound_message": _delete(
            InboundMessage,
            InboundMessage.created_at < now - timedelta(days=keep.keep_inbound_days),
        ),
        "rate_event": _delete(RateEvent, RateEvent.at < now - RATE_EVENT_KEEP),
        "api_session": _delete(
            ApiSession,
            ApiSession.expires_at < now - timedelta(days=keep.keep_api_session_days),
        ),
        # Console logins are used within minutes; a day later they only take space.
        "console_login": _delete(ConsoleLogin, ConsoleLogin.expires_at < now - LOGIN_KEEP),
        # Console sessions: kept as long as the API's past their end (who logged in, when).
        "console_session": _delete(
            ConsoleSession,
            ConsoleSession.expires_at < now - timedelta(days=keep.keep_api_session_days),
        ),
    }
    log.info("Pruned %s", ", ".join(f"{n} {table}" for table, n in removed.items()))
    return removed
