"""Meetings: the sign-in QR code WeChat makes for a meeting's scene."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from handlers.meetings.base import Settings, signin_window
from models.base import write_tx
from models.meetings import Meeting

log = logging.getLogger(__name__)

# (scene, expire_seconds) -> the made code, with .ticket, .url and .expires_at
QrMaker = Callable[[str, int], Any]


def meetings_needing_qr(
    now: datetime, settings: Settings, horizon_hours: int = 24
) -> list[Meeting]:
    """Scheduled meetings starting within the horizon whose sign-in QR code is not made yet."""
    close_after = timedelta(minutes=settings.meetings.signin_close_after_start_minutes)
    return list(
        Meeting.select()
        .where(
            Meeting.status == "scheduled",
            Meeting.qr_ticket.is_null(),
            Meeting.starts_at > now - close_after,
            Meeting.starts_at < now + timedelta(hours=horizon_hours),
        )
        .order_by(Meeting.starts_at)
    )


def qr_lifetime(meeting: Meeting, now: datetime, settings: Settings) -> int:
    """Seconds the meeting's QR code must live: until sign-in closes, plus a margin."""
    _, closes = signin_window(meeting, settings)
    return max(60, int((closes - now).total_seconds()) + 600)


def attach_qr(meeting: Meeting, *, ticket: str, url: str, expires_at: datetime) -> None:
    """Store the QR code WeChat made for the meeting's scene."""
    Meeting.update(qr_ticket=ticket, qr_url=url, qr_expires_at=expires_at).where(
        Meeting.id == meeting.id
    ).execute()


def make_qr(meeting: Meeting, now: datetime, settings: Settings, create: QrMaker) -> None:
    """Have WeChat make the meeting's sign-in QR code (through `create`) and store it.

    `create(scene, expire_seconds)` is the WeChat adapter (bot.clients.create_meeting_qr),
    handed in by the caller; its errors reach the caller, and then nothing is stored.
    """
    made = create(meeting.qr_scene, qr_lifetime(meeting, now, settings))
    with write_tx():
        attach_qr(meeting, ticket=made.ticket, url=made.url, expires_at=made.expires_at)
    meeting.qr_ticket, meeting.qr_url = made.ticket, made.url
    meeting.qr_expires_at = made.expires_at


@dataclass(frozen=True)
class Qr:
    ticket: str
    url: str
    expires_at: datetime | None


def ensure_qr(
    meeting: Meeting,
    now: datetime,
    settings: Settings,
    create: QrMaker,
    failures: tuple[type[Exception], ...],
) -> Qr | None:
    """The meeting's sign-in QR code, made now if the meeting_qr job has not made it yet.

    The sign-in code works without it: an error of `failures` (the adapter's) answers None
    and is logged.
    """
    live = meeting.qr_expires_at is None or meeting.qr_expires_at > now
    if not (meeting.qr_ticket and meeting.qr_url and live):
        try:
            make_qr(meeting, now, settings, create)
        except failures as exc:
            log.warning("QR code for meeting %s failed: %s", meeting.id, exc)
            return None
    return Qr(meeting.qr_ticket, meeting.qr_url, meeting.qr_expires_at)
