"""Message states: claim (``sending``), ``sent``, back to ``pending`` after a backoff, ``dead``
(the secretary told), ``skipped``. Every record after a send is conditional on the claim
(``claimed_at``) still being ours."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from core.config import Settings
from handlers.outbox.notices import generic_reason, notify_secretary
from handlers.outbox.pacing import settle
from models.base import is_sqlite, write_tx
from models.outbox import LAST_ERROR_MAX, OutboxMessage, SubscribeCredit
from models.prepared import execute

log = logging.getLogger(__name__)


def _stale_before(now: datetime, settings: Settings) -> datetime:
    return now - timedelta(seconds=settings.outbox.claim_timeout_seconds)


def _due(now: datetime, settings: Settings) -> Any:
    """Rows to work on: pending and due, or claimed so long ago that their drainer died."""
    return ((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now)) | (
        (OutboxMessage.status == "sending")
        & (OutboxMessage.claimed_at < _stale_before(now, settings))
    )


def claim(now: datetime, limit: int, settings: Settings) -> list[OutboxMessage]:
    """Mark up to ``limit`` due rows ``sending`` (claimed at ``now``) and return them.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so drainers running at once take disjoint rows.
    SQLite: the IMMEDIATE transaction holds the one write lock from the select to the update.
    Each claim counts as an attempt; a deferral (rate limit) gives it back.
    """
    with write_tx():
        query = (
            OutboxMessage.select(OutboxMessage.id)
            .where(_due(now, settings))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if not is_sqlite():
            query = query.for_update(skip_locked=True)
        ids = [row.id for row in query]
        if not ids:
            return []
        OutboxMessage.update(
            status="sending", claimed_at=now, attempts=OutboxMessage.attempts + 1
        ).where(OutboxMessage.id.in_(ids)).execute()
        return list(
            OutboxMessage.select()
            .where(OutboxMessage.id.in_(ids))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        )


def next_due(now: datetime, settings: Settings) -> datetime | None:
    """Return when the next row becomes due (now or earlier when one is due), or None."""
    pending = (
        OutboxMessage.select(OutboxMessage.next_attempt_at)
        .where(OutboxMessage.status == "pending")
        .order_by(OutboxMessage.next_attempt_at)
        .first()
    )
    sending = (
        OutboxMessage.select(OutboxMessage.claimed_at)
        .where(OutboxMessage.status == "sending")
        .order_by(OutboxMessage.claimed_at)
        .first()
    )
    times = []
    if pending is not None:
        times.append(pending.next_attempt_at)
    if sending is not None and sending.claimed_at is not None:
        stale_at = sending.claimed_at + timedelta(seconds=settings.outbox.claim_timeout_seconds)
        times.append(stale_at + timedelta(microseconds=1))
    return min(times) if times else None


def _ours(row: OutboxMessage) -> Any:
    return (
        (OutboxMessage.id == row.id)
        & (OutboxMessage.status == "sending")
        & (OutboxMessage.claimed_at == row.claimed_at)
    )


def record_part(
    row: OutboxMessage, parts_sent: int, now: datetime, *, rate_event_id: int | None = None
) -> bool:
    """Record that the first ``parts_sent`` parts of a split message were accepted."""
    with write_tx():
        settle(rate_event_id, now)
        updated = OutboxMessage.update(parts_sent=parts_sent).where(_ours(row)).execute()
    row.parts_sent = parts_sent
    return updated > 0


def _sent_update(v: Mapping[str, Any]) -> Any:
    return OutboxMessage.update(
        {
            OutboxMessage.status: "sent",
            OutboxMessage.last_error: "",
            OutboxMessage.sent_at: v["sent_at"],
            OutboxMessage.channel: v["channel"],
            OutboxMessage.parts_sent: v["parts"],
        }
    ).where(
        OutboxMessage.id == v["id"],
        OutboxMessage.status == "sending",
        OutboxMessage.claimed_at == v["claimed_at"],
    )


def mark_sent(
    row: OutboxMessage,
    now: datetime,
    *,
    channel: str = "",
    parts: int | None = None,
    rate_event_id: int | None = None,
) -> bool:
    """Record a row as sent; False when the claim was no longer ours (nothing changed)."""
    values = {
        "sent_at": now,
        "channel": channel or row.channel,
        "parts": row.parts_sent if parts is None else parts,
        "id": row.id,
        "claimed_at": row.claimed_at,
    }
    with write_tx():
        settle(rate_event_id, now)
        updated = execute("mark_sent", _sent_update, values).rowcount
    if updated:
        row.status, row.sent_at = "sent", now
    return updated > 0


def backoff_seconds(attempts: int, settings: Settings, rng: random.Random | None = None) -> float:
    """Return the wait after the ``attempts``-th failed attempt: exponential, capped, jittered.

    ``min(cap, base * factor ** (attempts - 1))`` less a random share of up to ``jitter`` of
    it. With factor 2 and jitter 0.5 each wait is at least the longest previous one, so the
    gaps grow while two rows failing together drift apart.
    """
    cfg = settings.outbox
    exponent = max(attempts - 1, 0)
    try:
        raw = cfg.backoff_base_seconds * cfg.backoff_factor**exponent
    except OverflowError:
        raw = float("inf")
    delay = min(cfg.backoff_cap_seconds, raw)
    share = (rng or random).random() * cfg.backoff_jitter
    return delay * (1.0 - share)


def clip(text: str) -> str:
    """Cut an error text to fit ``last_error``."""
    return text if len(text) <= LAST_ERROR_MAX else text[: LAST_ERROR_MAX - 1] + "…"


def mark_failed(
    row: OutboxMessage,
    error: BaseException | str,
    now: datetime,
    settings: Settings,
    *,
    rate_event_id: int | None = None,
    channel: str = "",
) -> str:
    """Record a failed attempt: back to ``pending`` after a backoff, or ``dead`` (and the
    branch secretary told) after ``max_attempts`` or a failure that retrying cannot mend.

    ``error`` is a message (retryable) or an exception with optional ``retryable``,
    ``retry_after`` and ``notice`` (the Chinese reason for the secretary) attributes; its
    text must hold no secret (channel errors never do). Returns the new status, or "" when
    the claim was no longer ours.
    """
    message = clip(str(error))
    retryable = bool(getattr(error, "retryable", True))
    retry_after = getattr(error, "retry_after", None)
    notice = getattr(error, "notice", None)
    dead = not retryable or row.attempts >= settings.outbox.max_attempts
    values: dict[Any, Any] = {OutboxMessage.last_error: message}
    if channel:
        values[OutboxMessage.channel] = channel
    if dead:
        values[OutboxMessage.status] = "dead"
    else:
        delay = backoff_seconds(row.attempts, settings)
        if retry_after is not None:
            delay = max(delay, float(retry_after))
        values[OutboxMessage.status] = "pending"
        values[OutboxMessage.next_attempt_at] = now + timedelta(seconds=delay)
    with write_tx():
        settle(rate_event_id, now)
        updated = OutboxMessage.update(values).where(_ours(row)).execute()
        if not updated:
            return ""
        if dead:
            notify_secretary(row, notice or generic_reason(message, row.attempts), now)
    status = "dead" if dead else "pending"
    row.status, row.last_error = status, message
    if not dead:
        row.next_attempt_at = values[OutboxMessage.next_attempt_at]
    level = logging.WARNING if dead else logging.INFO
    log.log(level, "Outbox row %s (%s) attempt %s failed, now %s: %s", row.id, row.kind,
            row.attempts, status, message)  # fmt: skip
    return status


def defer(rows: Sequence[OutboxMessage], until: datetime) -> int:
    """Put claimed rows back to ``pending`` until ``until`` without counting an attempt.

    For waits that are nobody's failure: a robot's full window, a 45009, the drain's time
    budget running out, or a lane held back behind a failed row.
    """
    if not rows:
        return 0
    tokens = {r.claimed_at for r in rows}
    with write_tx():
        updated = (
            OutboxMessage.update(
                status="pending",
                next_attempt_at=until,
                attempts=OutboxMessage.attempts - 1,
            )
            .where(
                OutboxMessage.id.in_([r.id for r in rows]),
                OutboxMessage.status == "sending",
                OutboxMessage.claimed_at.in_(tokens),
            )
            .execute()
        )
    for r in rows:
        r.status, r.next_attempt_at = "pending", until
    return updated


def skip(row: OutboxMessage, reason: str, now: datetime, *, channel: str = "") -> bool:
    """Mark a row ``skipped``: it has nowhere to go, and retrying will not change that."""
    values: dict[Any, Any] = {
        OutboxMessage.status: "skipped",
        OutboxMessage.last_error: clip(reason),
    }
    if channel:
        values[OutboxMessage.channel] = channel
    with write_tx():
        updated = OutboxMessage.update(values).where(_ours(row)).execute()
    if updated:
        row.status = "skipped"
    return updated > 0


def forget_credits(openid: str, template_id: str, now: datetime) -> None:
    """Set a subscribe credit count to 0 after WeChat said there is none (43101)."""
    with write_tx():
        SubscribeCredit.update(credits=0, updated_at=now).where(
            SubscribeCredit.openid == openid, SubscribeCredit.template_id == template_id
        ).execute()
