"""Meetings in the audit log: the fields a manager's change is recorded by, and the entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.audit import changed, record
from handlers.meetings.base import describe
from models.meetings import Meeting
from models.org import Member

# A meeting's fields as the audit log shows them before and after a change.
FIELDS = (
    "kind",
    "title",
    "place",
    "starts_at",
    "ends_at",
    "host_id",
    "recorder_id",
    "minutes",
    "decisions",
    "status",
)


def meeting_fields(meeting: Meeting, tz: ZoneInfo) -> dict[str, Any]:
    """The recorded fields of a meeting, its times in the branch's zone."""
    values = {name: getattr(meeting, name) for name in FIELDS}
    for name in ("starts_at", "ends_at"):
        values[name] = values[name].astimezone(tz) if values[name] else None
    return values


def record_meeting(
    actor: Member | None,
    action: str,
    verb: str,
    meeting: Meeting,
    tz: ZoneInfo,
    *,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a manager's change of a meeting: ``verb`` (安排会议) and the meeting in one line."""
    record(
        actor,
        action,
        summary=f"{verb}：{describe(meeting, tz)}",
        target=f"meeting:{meeting.id}",
        branch_id=meeting.branch_id,
        before=before,
        after=after,
        now=now,
    )


def record_meeting_change(
    actor: Member | None,
    action: str,
    verb: str,
    meeting: Meeting,
    tz: ZoneInfo,
    before: dict[str, Any],
    *,
    now: datetime,
) -> None:
    """Record the fields of ``meeting`` that differ from ``before`` (its fields earlier)."""
    old, new = changed(before, meeting_fields(meeting, tz))
    record_meeting(actor, action, verb, meeting, tz, now=now, before=old, after=new)
