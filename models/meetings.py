"""Meetings (三会一课, 主题党日 …), their expected attendees, and attendance records."""

from __future__ import annotations

from typing import Any

from peewee import Case, CharField, ForeignKeyField, TextField, fn

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField, is_sqlite
from models.org import Branch, Member, PartyGroup

# Meeting kinds (DOMAIN.md). The frequency rules live in configuration ([meetings]).
KINDS: dict[str, str] = {
    "general": "支部党员大会",
    "committee": "支部委员会会议",
    "group": "党小组会",
    "lesson": "党课",
    "theme_day": "主题党日",
    "life_meeting": "组织生活会",
    "appraisal": "民主评议党员",
    "other": "其他会议",
}
QUORUM_KINDS = ("general", "committee")


class Meeting(BaseModel):
    branch = ForeignKeyField(Branch, backref="meetings", on_delete="RESTRICT")
    party_group = ForeignKeyField(PartyGroup, null=True, on_delete="RESTRICT")
    kind = CharField(max_length=20)
    title = CharField(max_length=200, default="")
    place = CharField(max_length=200, default="")
    starts_at = UTCDateTimeField(index=True)
    ends_at = UTCDateTimeField()
    host = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorder = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    minutes = TextField(default="")
    decisions = TextField(default="")
    status = CharField(max_length=12, default="scheduled")  # scheduled | cancelled
    # Sign-in by code: set when the secretary opens sign-in; valid only inside the window.
    signin_code = CharField(max_length=12, null=True, index=True)
    # Sign-in by scanning: the QR code's scene string and what WeChat answered.
    qr_scene = CharField(max_length=64, unique=True)
    qr_ticket = CharField(max_length=200, null=True)
    qr_url = CharField(max_length=300, null=True)
    qr_expires_at = UTCDateTimeField(null=True)
    created_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)


class MeetingAttendee(BaseModel):
    """Who is expected, fixed when the meeting is scheduled (the roster may change later)."""

    meeting = ForeignKeyField(Meeting, backref="attendees", on_delete="CASCADE")
    member = ForeignKeyField(Member, backref="expected_at", on_delete="CASCADE")

    class Meta:
        indexes = ((("meeting", "member"), True),)


class Attendance(BaseModel):
    """One row per member and meeting: present (how, by whom) or on leave (why, decided?)."""

    meeting = ForeignKeyField(Meeting, backref="attendance", on_delete="CASCADE")
    member = ForeignKeyField(Member, backref="attendance", on_delete="CASCADE")
    status = CharField(max_length=8)  # present | leave
    method = CharField(max_length=8, default="")  # code | qr | manual | api (present only)
    leave_reason = CharField(max_length=200, default="")
    leave_status = CharField(max_length=10, default="")  # pending | approved | rejected
    decided_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("meeting", "member"), True),)


def duration_minutes(cap: int) -> Any:
    """A meeting's length in whole minutes (ends_at − starts_at), at least 0 and at most
    ``cap``, as SQL: SQLite keeps the times as text (julianday), PostgreSQL as timestamps."""
    if is_sqlite():
        raw = (fn.julianday(Meeting.ends_at) - fn.julianday(Meeting.starts_at)) * 1440
    else:
        raw = fn.date_part("epoch", Meeting.ends_at - Meeting.starts_at) / 60
    rounded = fn.ROUND(raw).cast("INTEGER")
    return Case(None, [(rounded > cap, cap), (rounded < 0, 0)], rounded)
