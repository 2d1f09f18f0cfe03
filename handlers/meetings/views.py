"""Meetings as the mini-program shows them: plain data for lists, details, reports, leaves.

A meeting is visible to its branch's members and to whoever manages that branch; a meeting
the caller may not see is "not found", one they see but may not manage is "forbidden".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from peewee import ModelSelect

from handlers.errors import DomainError, Forbidden, NotFound
from handlers.meetings.attendance import (
    AttendanceReport,
    attendance_report,
    member_meetings,
    quarter_start,
)
from handlers.meetings.base import (
    Settings,
    can_manage,
    find_meeting,
    get_meeting,
    signin_window,
)
from handlers.meetings.signin import latest_started
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import BRANCH_MANAGERS, Branch, Member, PartyGroup, acts_for

HIDDEN = "请求的资源不存在，或您无权查看。"
NOT_ALLOWED = "没有权限进行此操作。"


def hidden() -> DomainError:
    """The refusal for what the caller may not see: it does not tell whether it exists."""
    return NotFound(HIDDEN, errcode="not_found")


def not_allowed() -> DomainError:
    return Forbidden(NOT_ALLOWED, errcode="forbidden")


@dataclass(frozen=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True)
class Summary:
    """A meeting in a list: its group, whether the caller is expected, and their state."""

    meeting: Meeting
    group: Person | None
    expected: bool
    my_state: str  # present, leave_pending, leave_approved, leave_rejected, none


@dataclass(frozen=True)
class Detail:
    summary: Summary
    host: Person | None
    recorder: Person | None
    expected_count: int
    opens: datetime
    closes: datetime
    open: bool
    mine: Attendance | None  # the caller's own attendance row
    can_manage: bool


@dataclass(frozen=True)
class Record:
    """One attendance row with the people it names."""

    row: Attendance
    member: Person
    recorded_by: Person | None
    decided_by: Person | None


@dataclass(frozen=True)
class Page:
    items: list[Summary]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class MyAttendance:
    quarter_start: date
    attended: int
    held: int
    past: Page

    @property
    def rate(self) -> float | None:
        return self.attended / self.held if self.held else None


@dataclass(frozen=True)
class Sheet:
    """The attendance report of one meeting, with how and when each present member signed."""

    summary: Summary
    report: AttendanceReport
    signed: dict[int, Attendance]  # member id -> their present row


@dataclass(frozen=True)
class LeaveRequests:
    summary: Summary
    pending: list[Record]
    decided: list[Record]


# ---- who sees what ---------------------------------------------------------------------------


def check_visible(me: Member, meeting: Meeting) -> None:
    """A meeting is visible to its branch's members and to whoever manages that branch."""
    if meeting.branch_id != me.branch_id and not can_manage(me, meeting.branch):
        raise hidden()


def check_managed(me: Member, meeting: Meeting) -> None:
    check_visible(me, meeting)
    if not can_manage(me, meeting.branch):
        raise not_allowed()


def visible_meeting(me: Member, meeting_id: int) -> Meeting:
    meeting = find_meeting(meeting_id)
    if meeting is None:
        raise hidden()
    check_visible(me, meeting)
    return meeting


def managed_meeting(me: Member, meeting_id: int) -> Meeting:
    meeting = visible_meeting(me, meeting_id)
    check_managed(me, meeting)
    return meeting


def managed_branch(me: Member, branch_id: int | None) -> Branch:
    """The branch a manager acts for: their own, or `branch_id` if they may act for it (an
    unknown id is refused the same way, so the answer does not tell whether it exists)."""
    if branch_id is None or branch_id == me.branch_id:
        branch = me.branch
    else:
        branch = Branch.get_or_none(Branch.id == branch_id)
        if branch is None:
            raise not_allowed()
    if not acts_for(me, branch, BRANCH_MANAGERS):
        raise not_allowed()
    return branch


# ---- building blocks -------------------------------------------------------------------------


def people(ids: Iterable[int | None]) -> dict[int, Person]:
    """The named members by id, in one query."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {m.id: Person(m.id, m.name) for m in Member.select().where(Member.id.in_(wanted))}


def _state(row: Attendance | None) -> str:
    if row is None:
        return "none"
    if row.status == "present":
        return "present"
    return f"leave_{row.leave_status}"


def summaries(meetings: list[Meeting], me: Member) -> list[Summary]:
    """Meetings as list items, each with whether the caller is expected and their state."""
    ids = [m.id for m in meetings]
    if not ids:
        return []
    expected = {
        a.meeting_id
        for a in MeetingAttendee.select(MeetingAttendee.meeting).where(
            MeetingAttendee.member == me.id, MeetingAttendee.meeting.in_(ids)
        )
    }
    rows = {
        a.meeting_id: a
        for a in Attendance.select().where(Attendance.member == me.id, Attendance.meeting.in_(ids))
    }
    group_ids = {m.party_group_id for m in meetings if m.party_group_id}
    groups = (
        {
            g.id: Person(g.id, g.name)
            for g in PartyGroup.select().where(PartyGroup.id.in_(group_ids))
        }
        if group_ids
        else {}
    )
    return [
        Summary(m, groups.get(m.party_group_id), m.id in expected, _state(rows.get(m.id)))
        for m in meetings
    ]


def summary(meeting: Meeting, me: Member) -> Summary:
    return summaries([meeting], me)[0]


def detail(meeting: Meeting, me: Member, *, now: datetime, settings: Settings) -> Detail:
    """The meeting with host, recorder, expected count, sign-in window and my own row."""
    row = Attendance.get_or_none((Attendance.meeting == meeting.id) & (Attendance.member == me.id))
    named = people([meeting.host_id, meeting.recorder_id])
    opens, closes = signin_window(meeting, settings)
    return Detail(
        summary=summary(meeting, me),
        host=named.get(meeting.host_id),
        recorder=named.get(meeting.recorder_id),
        expected_count=MeetingAttendee.select()
        .where(MeetingAttendee.meeting == meeting.id)
        .count(),
        opens=opens,
        closes=closes,
        open=meeting.status == "scheduled" and opens <= now <= closes,
        mine=row,
        can_manage=can_manage(me, meeting.branch),
    )


def record(row: Attendance) -> Record:
    """One attendance row: present (how, by whom) or on leave (why, decided by whom)."""
    named = people([row.member_id, row.recorded_by_id, row.decided_by_id])
    return _record(row, named)


def _record(row: Attendance, named: dict[int, Person]) -> Record:
    return Record(
        row, named[row.member_id], named.get(row.recorded_by_id), named.get(row.decided_by_id)
    )


def _page(select: ModelSelect, me: Member, limit: int, offset: int) -> Page:
    total = select.count()
    rows = list(select.limit(limit).offset(offset))
    return Page(summaries(rows, me), total, limit, offset)


# ---- what the mini-program reads -------------------------------------------------------------


def meetings_page(
    me: Member, branch_id: int | None, *, now: datetime, limit: int, offset: int
) -> Page:
    """Meetings of the branch that have not ended yet (cancelled ones too), soonest first."""
    branch_id = branch_id or me.branch_id
    if branch_id != me.branch_id:
        branch_id = managed_branch(me, branch_id).id
    select = Meeting.select().where(Meeting.branch == branch_id, Meeting.ends_at > now)
    return _page(select.order_by(Meeting.starts_at, Meeting.id), me, limit, offset)


def meeting_detail(me: Member, meeting_id: int, *, now: datetime, settings: Settings) -> Detail:
    """A meeting the caller may see, in detail."""
    return detail(visible_meeting(me, meeting_id), me, now=now, settings=settings)


def my_attendance(
    me: Member, *, now: datetime, tz: ZoneInfo, limit: int, offset: int
) -> MyAttendance:
    """This quarter's attended / held meetings, and my past meetings with my state."""
    _, attended, held = member_meetings(me, now=now, tz=tz)
    past = (
        Meeting.select()
        .join(MeetingAttendee)
        .where(
            MeetingAttendee.member == me.id,
            Meeting.status == "scheduled",
            Meeting.ends_at <= now,
        )
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )
    start = quarter_start(now, tz).date()
    return MyAttendance(start, attended, held, _page(past, me, limit, offset))


def attendance_sheet(me: Member, meeting_id: int, *, now: datetime) -> Sheet:
    """Present / on leave / absent with names, the rate, and quorum, for a manager."""
    meeting = managed_meeting(me, meeting_id)
    report = attendance_report(meeting, now=now)
    rows = {a.member_id: a for a in Attendance.select().where(Attendance.meeting == meeting.id)}
    return Sheet(summary(meeting, me), report, rows)


def leave_requests(me: Member, meeting_id: int) -> LeaveRequests:
    """The meeting's leave requests: pending ones, and those decided."""
    meeting = managed_meeting(me, meeting_id)
    rows = list(
        Attendance.select()
        .where(Attendance.meeting == meeting.id, Attendance.status == "leave")
        .order_by(Attendance.at, Attendance.id)
    )
    named = people(i for r in rows for i in (r.member_id, r.decided_by_id))
    return LeaveRequests(
        summary(meeting, me),
        [_record(r, named) for r in rows if r.leave_status == "pending"],
        [_record(r, named) for r in rows if r.leave_status != "pending"],
    )


@dataclass(frozen=True)
class NamedReport:
    """The attendance report of a meeting with its host's and recorder's names (会议 情况)."""

    meeting: Meeting
    report: AttendanceReport
    host: str | None
    recorder: str | None


def branch_meeting_report(
    actor: Member, meeting_id: int | None, *, now: datetime, settings: Settings
) -> NamedReport:
    """The report of the named meeting, or of the branch's meeting whose sign-in opened last."""
    if meeting_id is None:
        meeting = latest_started(actor, now, settings)
    else:
        meeting = get_meeting(actor, meeting_id)
    report = attendance_report(meeting, now=now)
    named = people([meeting.host_id, meeting.recorder_id])
    host, recorder = named.get(meeting.host_id), named.get(meeting.recorder_id)
    return NamedReport(
        meeting, report, host.name if host else None, recorder.name if recorder else None
    )
