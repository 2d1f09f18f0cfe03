"""Pacing: before each part, renew the claim, reserve a slot in the robot's window, take a
subscribe credit; after it, date the slot at the answer. Robot windows are shared by every
drainer through the database (RateEvent rows), so drainers in several processes together stay
under a robot's limit."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.config import Settings
from handlers.outbox.routing import Address
from models.base import db, is_sqlite, write_tx
from models.outbox import OutboxMessage, SubscribeCredit
from models.prepared import execute
from models.wechat import RateEvent


@dataclass(frozen=True)
class Grant:
    """The answer of ``begin_part``: go ahead (with a rate event to settle), wait, or stop."""

    go: bool
    rate_event_id: int | None = None
    wait: float = 0.0  # seconds until the robot's window has room (go is False)
    lost: bool = False  # another drainer took the row over: leave it alone
    no_credit: bool = False  # a subscribe message without a credit: skip the row


def _advisory_lock(bucket: str) -> None:
    """Serialize rate-window checks of one bucket across PostgreSQL sessions (until commit)."""
    key = int.from_bytes(hashlib.sha256(bucket.encode()).digest()[:8], "big", signed=True)
    db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))


def begin_part(row: OutboxMessage, address: Address, now: datetime, settings: Settings) -> Grant:
    """Before sending one part: renew the claim, reserve a slot in the robot's window, and take
    a subscribe credit for the row's first part; all in one short transaction, or none when
    there is nothing to do.

    The claim is renewed only once it is a third of ``claim_timeout_seconds`` old: a younger
    claim cannot be taken over before this part's record (core.config holds
    ``claim_timeout_seconds`` to at least 10 x the connect plus read timeouts).

    A reserved slot is recorded as a RateEvent dated ``now + connect + read timeout`` (the
    latest the request can reach WeCom), so a slow request still counts in every drainer's
    window; the record after the answer moves it to the answer time (see ``settle``).
    """
    cfg = settings.outbox
    renew = row.claimed_at is None or now - row.claimed_at > timedelta(
        seconds=cfg.claim_timeout_seconds / 3
    )
    take_credit = address.channel == "subscribe" and not row.credit_spent
    bucket = address.rate_bucket
    if not (renew or take_credit or bucket):
        return Grant(True)
    with write_tx():
        if renew and not _renew_claim(row, now):
            return Grant(False, lost=True)
        event_id = None
        if bucket is not None:
            wait, event_id = _reserve_slot(bucket, now, cfg)
            if event_id is None:
                return Grant(False, wait=wait)
        if take_credit and not _take_credit(row, address, now):
            return Grant(False, no_credit=True)
        return Grant(True, rate_event_id=event_id)


def _renew_claim(row: OutboxMessage, now: datetime) -> bool:
    """Move the row's claim to ``now``; False when it is no longer ours."""
    renewed = (
        OutboxMessage.update(claimed_at=now)
        .where(
            OutboxMessage.id == row.id,
            OutboxMessage.status == "sending",
            OutboxMessage.claimed_at == row.claimed_at,
        )
        .execute()
    )
    if renewed:
        row.claimed_at = now
    return bool(renewed)


def _reserve_slot(bucket: str, now: datetime, cfg: Mapping[str, Any]) -> tuple[float, int | None]:
    """Reserve a slot in a robot's window: (0, the rate event) or (seconds to wait, None)."""
    if not is_sqlite():
        _advisory_lock(bucket)
    window = timedelta(seconds=cfg.robot_rate_window_seconds)
    limit = cfg.robot_rate_limit
    cursor = execute(
        "rate_window",
        lambda v: (
            RateEvent.select(RateEvent.at)
            .where(RateEvent.bucket == v["bucket"], RateEvent.at > v["since"])
            .order_by(RateEvent.at)
        ),
        {"bucket": bucket, "since": now - window},
    )
    recent = [RateEvent.at.python_value(at) for (at,) in cursor.fetchall()]
    if len(recent) >= limit:
        frees_at = recent[len(recent) - limit] + window
        return max((frees_at - now).total_seconds(), 0.001), None
    at = now + timedelta(seconds=cfg.connect_timeout_seconds + cfg.read_timeout_seconds)
    cursor = execute(
        "rate_reserve",
        lambda v: RateEvent.insert(bucket=v["bucket"], at=v["at"]),
        {"bucket": bucket, "at": at},
    )
    return 0.0, cursor.lastrowid if is_sqlite() else cursor.fetchone()[0]


def _take_credit(row: OutboxMessage, address: Address, now: datetime) -> bool:
    """Spend the row's subscribe credit once; False when the member has none left."""
    taken = (
        SubscribeCredit.update(credits=SubscribeCredit.credits - 1, updated_at=now)
        .where(
            SubscribeCredit.openid == address.target,
            SubscribeCredit.template_id == address.template_id,
            SubscribeCredit.credits > 0,
        )
        .execute()
    )
    if not taken:
        return False
    OutboxMessage.update(credit_spent=True).where(OutboxMessage.id == row.id).execute()
    row.credit_spent = True
    return True


def settle(rate_event_id: int | None, now: datetime) -> None:
    """Date a reserved rate slot at the answer time (an upper bound of WeCom's receipt)."""
    if rate_event_id is not None:
        execute(
            "rate_settle",
            lambda v: RateEvent.update(at=v["at"]).where(RateEvent.id == v["id"]),
            {"at": now, "id": rate_event_id},
        )


def rest_bucket(bucket: str, until: datetime, settings: Settings) -> None:
    """Keep every drainer off a robot key until ``until`` (after a 45009).

    The rest is written as a full window: ``robot_rate_limit`` events dated ``until`` less
    the window, so the window check alone keeps the key idle until then.
    """
    cfg = settings.outbox
    at = until - timedelta(seconds=cfg.robot_rate_window_seconds)
    with write_tx():
        RateEvent.insert_many([{"bucket": bucket, "at": at}] * cfg.robot_rate_limit).execute()


def prune_rate_events(now: datetime, settings: Settings) -> None:
    """Delete robot rate events long past their window (once per drain call)."""
    window = timedelta(seconds=settings.outbox.robot_rate_window_seconds)
    with write_tx():
        RateEvent.delete().where(
            RateEvent.bucket.startswith("robot:"), RateEvent.at < now - 2 * window
        ).execute()
