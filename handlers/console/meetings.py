"""The console's meeting pages: what they read and the forms they send, composed of the
meeting use cases (handlers.meetings) that the bot and the mini-program call.

A meeting is managed by the branch's secretary, deputy secretary or organizer, and by a
committee admin for the committee's branches (handlers.meetings.managed_branch).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from peewee import Case, fn

from core.config import Settings
from core.datetext import DateTextError, When, parse_when
from handlers import meetings as h
from handlers.errors import Invalid
from handlers.meetings.views import hidden
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import Branch, Member, PartyGroup

RECENT_DAYS = 90  # ended meetings listed on the meetings page
LIST_MAX = 100  # meetings in each part of the list


@dataclass(frozen=True)
class Counts:
    expected: int
    present: int
    leave: int  # approved leave


@dataclass(frozen=True)
class Row:
    meeting: Meeting
    group: str | None
    counts: Counts


@dataclass(frozen=True)
class MeetingList:
    branch: Branch
    upcoming: list[Row]  # not ended, soonest first (cancelled ones too)
    recent: list[Row]  # ended within RECENT_DAYS, latest first


@dataclass(frozen=True)
class Month:
    branch: Branch
    first: date
    weeks: list[list[date | None]]  # Monday first; None outside the month
    days: dict[date, list[Row]]  # meetings by their local day


def _counts(ids: list[int]) -> dict[int, Counts]:
    """Expected, present and on approved leave per meeting, in two grouped queries."""
    if not ids:
        return {}
    expected = dict(
        MeetingAttendee.select(MeetingAttendee.meeting, fn.COUNT(MeetingAttendee.id))
        .where(MeetingAttendee.meeting.in_(ids))
        .group_by(MeetingAttendee.meeting)
        .tuples()
    )
    present = Case(None, [(Attendance.status == "present", 1)], 0)
    leave = Case(None, [(Attendance.leave_status == "approved", 1)], 0)
    seen = {
        mid: (p or 0, lv or 0)
        for mid, p, lv in Attendance.select(Attendance.meeting, fn.SUM(present), fn.SUM(leave))
        .where(Attendance.meeting.in_(ids))
        .group_by(Attendance.meeting)
        .tuples()
    }
    return {i: Counts(expected.get(i, 0), *seen.get(i, (0, 0))) for i in ids}


def _rows(meetings: list[Meeting]) -> list[Row]:
    counts = _counts([m.id for m in meetings])
    group_ids = {m.party_group_id for m in meetings if m.party_group_id}
    groups = (
        dict(
            PartyGroup.select(PartyGroup.id, PartyGroup.name)
            .where(PartyGroup.id.in_(group_ids))
            .tuples()
        )
        if group_ids
        else {}
    )
    return [Row(m, groups.get(m.party_group_id), counts[m.id]) for m in meetings]


def branch_meetings(actor: Member, branch_id: int, *, now: datetime) -> MeetingList:
    """The branch's meetings that have not ended, and those ended lately, with their counts."""
    branch = h.managed_branch(actor, branch_id)
    ahead = (
        Meeting.select()
        .where(Meeting.branch == branch.id, Meeting.ends_at > now)
        .order_by(Meeting.starts_at, Meeting.id)
        .limit(LIST_MAX)
    )
    past = (
        Meeting.select()
        .where(
            Meeting.branch == branch.id,
            Meeting.ends_at <= now,
            Meeting.ends_at > now - timedelta(days=RECENT_DAYS),
        )
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
        .limit(LIST_MAX)
    )
    return MeetingList(branch, _rows(list(ahead)), _rows(list(past)))


def month_meetings(actor: Member, branch_id: int, first: date, *, settings: Settings) -> Month:
    """The branch's meetings of one month (the branch's time zone), by day, for a calendar."""
    branch = h.managed_branch(actor, branch_id)
    tz = ZoneInfo(settings.app.timezone)
    first = first.replace(day=1)
    after = (first + timedelta(days=32)).replace(day=1)
    start = datetime(first.year, first.month, 1, tzinfo=tz)
    end = datetime(after.year, after.month, 1, tzinfo=tz)
    found = (
        Meeting.select()
        .where(Meeting.branch == branch.id, Meeting.starts_at >= start, Meeting.starts_at < end)
        .order_by(Meeting.starts_at, Meeting.id)
    )
    days: dict[date, list[Row]] = {}
    for row in _rows(list(found)):
        days.setdefault(row.meeting.starts_at.astimezone(tz).date(), []).append(row)
    weeks = [
        [d if d.month == first.month else None for d in week]
        for week in calendar.Calendar().monthdatescalendar(first.year, first.month)
    ]
    return Month(branch, first, weeks, days)


@dataclass(frozen=True)
class MeetingForm:
    """What the create and edit forms offer: the branch's party groups (and the meeting)."""

    branch: Branch
    groups: list[PartyGroup]
    meeting: Meeting | None


def _in_branch(meeting: Meeting, branch_id: int) -> Meeting:
    """The meeting, if it is of the branch in the address (else it is not found there)."""
    if meeting.branch_id != branch_id:
        raise hidden()
    return meeting


def meeting_form(actor: Member, branch_id: int, meeting_id: int | None = None) -> MeetingForm:
    """The branch's party groups for the form, and the meeting to edit (managers only)."""
    branch = h.managed_branch(actor, branch_id)
    meeting = None
    if meeting_id is not None:
        meeting = _in_branch(h.managed_meeting(actor, meeting_id), branch.id)
    groups = list(
        PartyGroup.select().where(PartyGroup.branch == branch.id).order_by(PartyGroup.id)
    )
    return MeetingForm(branch, groups, meeting)


def _when(text: str, now: datetime, settings: Settings, default_minutes: int | None) -> When:
    """The time as the bot reads it (12月3日 15:00-16:30); the form has its own place field."""
    try:
        when = parse_when(
            text, now=now, tz=ZoneInfo(settings.app.timezone), default_minutes=default_minutes
        )
    except DateTextError as exc:
        raise Invalid(exc.message, errcode="invalid_time") from None
    if when.rest.strip():
        raise Invalid(
            f"时间栏中的“{when.rest.strip()}”不是日期或时间，地点和主题请填在各自的栏中。",
            errcode="invalid_time",
        )
    return when


def schedule_by_form(
    actor: Member,
    branch_id: int,
    *,
    kind: str,
    when_text: str,
    place: str,
    title: str,
    group_id: int | None,
    now: datetime,
    settings: Settings,
) -> h.Detail:
    """Schedule a meeting from the console's form (the mini-program's use case, the time in
    the bot's words)."""
    h.managed_branch(actor, branch_id)
    when = _when(when_text, now, settings, settings.meetings.default_duration_minutes)
    return h.schedule_meeting(
        actor,
        kind=kind,
        start=when.start,
        ends_at=when.end,
        place=place,
        title=title,
        branch_id=branch_id,
        group_id=group_id if kind == "group" else None,
        now=now,
        settings=settings,
    )


def change_by_form(
    actor: Member,
    branch_id: int,
    meeting_id: int,
    *,
    when_text: str | None,
    place: str,
    title: str,
    now: datetime,
    settings: Settings,
) -> h.Detail:
    """Change a meeting from the console's form; ``when_text`` None keeps its time."""
    _in_branch(h.managed_meeting(actor, meeting_id), branch_id)
    when = _when(when_text, now, settings, None) if when_text is not None else None
    return h.change_meeting(
        actor,
        meeting_id,
        start=when.start if when else None,
        ends_at=when.end if when else None,
        place=place,
        title=title,
        now=now,
        settings=settings,
    )


@dataclass(frozen=True)
class MeetingPage:
    detail: h.Detail
    sheet: h.Sheet
    leaves: h.LeaveRequests


def meeting_page(
    actor: Member, branch_id: int, meeting_id: int, *, now: datetime, settings: Settings
) -> MeetingPage:
    """A meeting for its managers: details, attendance with names, and leave requests."""
    sheet = meeting_sheet(actor, branch_id, meeting_id, now=now)
    meeting = sheet.summary.meeting
    return MeetingPage(
        h.detail(meeting, actor, now=now, settings=settings),
        sheet,
        h.leave_requests(actor, meeting_id),
    )


def meeting_sheet(actor: Member, branch_id: int, meeting_id: int, *, now: datetime) -> h.Sheet:
    """The attendance report of a meeting of the branch (the sign-in page polls it)."""
    h.managed_branch(actor, branch_id)
    sheet = h.attendance_sheet(actor, meeting_id, now=now)
    _in_branch(sheet.summary.meeting, branch_id)
    return sheet
