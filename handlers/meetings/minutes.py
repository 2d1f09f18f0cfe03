"""Meetings: the minutes (纪要) and decisions (决议) a manager records for a meeting."""

from __future__ import annotations

from datetime import datetime

from handlers.meetings.base import Settings, check_record, find_meeting
from handlers.meetings.schedule import edit_meeting
from handlers.meetings.views import Detail, detail, managed_meeting
from models.base import write_tx
from models.org import Member


def record_minutes(
    actor: Member,
    meeting_id: int,
    *,
    minutes: str,
    decisions: str,
    now: datetime,
    settings: Settings,
) -> Detail:
    """Replace a meeting's minutes and decisions (whoever may edit the meeting); each within
    its limit ([meetings] minutes_max_chars, decisions_max_chars), else nothing is saved."""
    meeting = managed_meeting(actor, meeting_id)
    check_record("minutes", minutes, settings)
    check_record("decisions", decisions, settings)
    with write_tx():
        edit_meeting(
            actor, meeting.id, minutes=minutes, decisions=decisions, now=now, settings=settings
        )
    return detail(find_meeting(meeting.id), actor, now=now, settings=settings)
