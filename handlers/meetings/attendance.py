"""Meetings: the attendance report, the quorum rule, and a member's own record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from peewee import JOIN, Case, Expression, Select, fn

from core.clock import local_day
from models.meetings import QUORUM_KINDS, Attendance, Meeting, MeetingAttendee
from models.org import Member


@dataclass
class AttendanceReport:
    meeting: Meeting
    expected: list[Member]
    present: list[Member] = field(default_factory=list)
    leave_approved: list[tuple[Member, str]] = field(default_factory=list)
    leave_pending: list[tuple[Member, str]] = field(default_factory=list)
    leave_rejected: list[tuple[Member, str]] = field(default_factory=list)
    not_signed: list[Member] = field(default_factory=list)  # absent once the meeting ended
    ended: bool = False
    quorum_needed: int | None = None  # for general and committee meetings
    quorum_present: int = 0

    @property
    def rate(self) -> float:
        return len(self.present) / len(self.expected) if self.expected else 0.0

    @property
    def quorum_met(self) -> bool | None:
        return None if self.quorum_needed is None else self.quorum_present >= self.quorum_needed


# ---- quorum: one rule for the attendance report and the compliance calendar ----------------


def is_voter(kind: str, status: str) -> bool:
    """Whether an expected attendee counts towards the quorum of a general or committee
    meeting: every committee member at a committee meeting; at a general meeting the full
    members (probationary members have no vote)."""
    return kind == "committee" or status == "full"


def quorum_needed(voters: int) -> int:
    """Voting members present for a quorum: more than half (at least 1, even of none)."""
    return voters // 2 + 1


def quorum_tallies(meetings: Expression) -> Select:
    """Per meeting matching `meetings` (a condition on Meeting) with at least one voter on its
    list, as columns meeting_id, voters, present: its voting members (is_voter, in SQL) and
    how many of them were present. One grouped query over the expected attendees; a meeting
    has quorum when present >= quorum_needed(voters), in SQL present * 2 > voters."""
    voter = (Meeting.kind == "committee") | (Member.status == "full")
    return (
        MeetingAttendee.select(
            MeetingAttendee.meeting.alias("meeting_id"),
            fn.COUNT(MeetingAttendee.id).alias("voters"),
            fn.SUM(Case(None, [(Attendance.status == "present", 1)], 0)).alias("present"),
        )
        .join(Meeting, on=MeetingAttendee.meeting == Meeting.id)
        .switch(MeetingAttendee)
        .join(Member, on=MeetingAttendee.member == Member.id)
        .switch(MeetingAttendee)
        .join(
            Attendance,
            JOIN.LEFT_OUTER,
            on=(Attendance.meeting == MeetingAttendee.meeting)
            & (Attendance.member == MeetingAttendee.member),
        )
        .where(meetings, Meeting.kind.in_(QUORUM_KINDS), voter)
        .group_by(MeetingAttendee.meeting)
    )


def attendance_report(meeting: Meeting, *, now: datetime) -> AttendanceReport:
    """Present / on leave / absent with names, the rate, and quorum where it applies."""
    expected = list(
        Member.select()
        .join(MeetingAttendee)
        .where(MeetingAttendee.meeting == meeting.id)
        .order_by(Member.id)
    )
    rows = {a.member_id: a for a in Attendance.select().where(Attendance.meeting == meeting.id)}
    return classify_attendance(meeting, expected, rows, now=now)


def classify_attendance(
    meeting: Meeting, expected: list[Member], rows: dict[int, Attendance], *, now: datetime
) -> AttendanceReport:
    """Sort the expected members by their attendance rows (by member id): present, on leave
    (approved, pending, refused) or not signed; pending and refused leave count as absent."""
    report = AttendanceReport(meeting=meeting, expected=expected, ended=now >= meeting.ends_at)
    for member in expected:
        row = rows.get(member.id)
        if row is None:
            report.not_signed.append(member)
        elif row.status == "present":
            report.present.append(member)
        elif row.leave_status == "approved":
            report.leave_approved.append((member, row.leave_reason))
        elif row.leave_status == "rejected":
            report.leave_rejected.append((member, row.leave_reason))
            report.not_signed.append(member)
        else:
            report.leave_pending.append((member, row.leave_reason))
            report.not_signed.append(member)
    if meeting.kind in QUORUM_KINDS:
        voters = [m for m in expected if is_voter(meeting.kind, m.status)]
        report.quorum_needed = quorum_needed(len(voters))
        present_ids = {m.id for m in report.present}
        report.quorum_present = sum(1 for m in voters if m.id in present_ids)
    return report


def quarter_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The first moment of the current quarter in the branch's zone."""
    today = local_day(now, tz)
    return datetime(today.year, 3 * ((today.month - 1) // 3) + 1, 1, tzinfo=tz)


def member_meetings(
    member: Member, *, now: datetime, tz: ZoneInfo
) -> tuple[list[Meeting], int, int]:
    """The member's upcoming meetings and, this quarter, meetings attended / meetings held."""
    q_start = quarter_start(now, tz)
    soon = list(
        Meeting.select()
        .join(MeetingAttendee)
        .where(
            MeetingAttendee.member == member.id,
            Meeting.status == "scheduled",
            Meeting.ends_at > now,
        )
        .order_by(Meeting.starts_at)
        .limit(3)
    )
    held = (
        Meeting.select(Meeting.id, Attendance.status)
        .join(MeetingAttendee)
        .switch(Meeting)
        .join(
            Attendance,
            JOIN.LEFT_OUTER,
            on=(Attendance.meeting == Meeting.id) & (Attendance.member == member.id),
        )
        .where(
            MeetingAttendee.member == member.id,
            Meeting.status == "scheduled",
            Meeting.starts_at >= q_start,
            Meeting.ends_at <= now,
        )
        .tuples()
    )
    rows = list(held)
    attended = sum(1 for _, status in rows if status == "present")
    return soon, attended, len(rows)
