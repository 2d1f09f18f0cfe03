"""Scheduled jobs: plain functions that decide who gets what, calling handlers."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.clients import (
    WeChatApiError,
    create_meeting_qr,
    official_client,
    refresh_official_token,
)
from core.clock import utcnow
from handlers import meetings
from models.base import write_tx
from models.meetings import Meeting

log = logging.getLogger(__name__)

Settings = dict[str, dict[str, Any]]


def token_refresh(settings: Settings, now: datetime | None = None) -> str:
    """Keep the shared access token fresh, so request paths never fetch one themselves."""
    return "token valid until " + refresh_official_token(settings).isoformat()


def meeting_qr_codes(settings: Settings, now: datetime | None = None) -> list[tuple[Meeting, str]]:
    """Create sign-in QR codes for meetings starting within a day; return the failures.

    This runs outside any WeChat callback: the callback must never wait on a WeChat API call.
    """
    now = now or utcnow()
    client = official_client(settings)
    failures = []
    for meeting in meetings.meetings_needing_qr(now, settings):
        lifetime = meetings.qr_lifetime(meeting, now, settings)
        try:
            qr = create_meeting_qr(settings, meeting.qr_scene, lifetime, client=client)
        except WeChatApiError as exc:
            log.warning("QR code for meeting %s failed: %s", meeting.id, exc)
            failures.append((meeting, str(exc)))
            continue
        with write_tx():
            meetings.attach_qr(meeting, ticket=qr.ticket, url=qr.url, expires_at=qr.expires_at)
    return failures


# Job id → function. Cron strings come from [scheduler] under the same id.
CRON_JOBS = {
    "token_refresh": token_refresh,
    "meeting_qr": meeting_qr_codes,
}
# Job id → (the [scheduler] key holding its interval in seconds, function).
INTERVAL_JOBS: dict[str, tuple[str, object]] = {}
