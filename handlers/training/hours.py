"""学时 counted from the records: attendance (present) at the meetings of the kinds
``training.meeting_kinds``, each worth its length capped at ``training.max_minutes_per_meeting``,
plus the training a secretary recorded; for a year up to a moment.

Every figure is computed by the database in one statement, for one member, one branch or all
branches of a committee alike: the per-member sums are subqueries the outer query groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN, Case, Expression, fn

from core.clock import UTC
from core.config import Settings
from models.meetings import Attendance, Meeting, duration_minutes
from models.org import PARTY_MEMBER_STATUSES, Member
from models.training import TrainingRecord


@dataclass(frozen=True)
class Span:
    """The part of a year counted: meetings starting in [start, end), records dated first..last."""

    year: int
    first: date
    last: date
    start: datetime
    end: datetime


def _moment(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def year_span(year: int, at: datetime, settings: Settings) -> Span:
    """The year ``year`` up to ``at`` (the whole year once it is over)."""
    tz = ZoneInfo(settings.app.timezone)
    start = _moment(date(year, 1, 1), tz)
    end = min(at, _moment(date(year + 1, 1, 1), tz))
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    return Span(year, date(year, 1, 1), max(last, date(year, 1, 1)), start, max(end, start))


def meeting_condition(span: Span, settings: Settings) -> Expression:
    """Meetings that count: of the counted kinds, not cancelled, starting within the span."""
    return (
        (Meeting.kind.in_(list(settings.training.meeting_kinds)))
        & (Meeting.status == "scheduled")
        & (Meeting.starts_at >= span.start)
        & (Meeting.starts_at < span.end)
    )


def _per_member(members: Expression, span: Span, settings: Settings) -> tuple[Any, Any]:
    """Two subqueries, (member_id, minutes): counted meetings attended, and other training."""
    ours = Member.select(Member.id).where(members)
    cap = settings.training.max_minutes_per_meeting
    meetings = (
        Attendance.select(
            Attendance.member.alias("member_id"),
            fn.SUM(duration_minutes(cap)).alias("minutes"),
        )
        .join(Meeting, on=Attendance.meeting == Meeting.id)
        .where(
            Attendance.status == "present",
            Attendance.member.in_(ours),
            meeting_condition(span, settings),
        )
        .group_by(Attendance.member)
        .alias("counted_meetings")
    )
    records = (
        TrainingRecord.select(
            TrainingRecord.member.alias("member_id"),
            fn.SUM(TrainingRecord.minutes).alias("minutes"),
        )
        .where(
            TrainingRecord.member.in_(ours),
            TrainingRecord.day >= span.first,
            TrainingRecord.day <= span.last,
        )
        .group_by(TrainingRecord.member)
        .alias("other_training")
    )
    return meetings, records


def member_minutes(members: Expression, span: Span, settings: Settings) -> Any:
    """A query of (member id, name, branch id, meeting minutes, other minutes) for the party
    members matching ``members``, by id."""
    meetings, records = _per_member(members, span, settings)
    return (
        Member.select(
            Member.id,
            Member.name,
            Member.branch,
            fn.COALESCE(meetings.c.minutes, 0),
            fn.COALESCE(records.c.minutes, 0),
        )
        .join(meetings, JOIN.LEFT_OUTER, on=(meetings.c.member_id == Member.id))
        .switch(Member)
        .join(records, JOIN.LEFT_OUTER, on=(records.c.member_id == Member.id))
        .where(members, Member.status.in_(PARTY_MEMBER_STATUSES))
        .order_by(Member.id)
        .tuples()
    )


@dataclass(frozen=True)
class BranchTraining:
    """A branch's party members and their 学时 together: never a list of names."""

    members: int = 0
    minutes: int = 0
    below: int = 0  # members under the year's required hours

    @property
    def average_hours(self) -> float | None:
        return round(self.minutes / 60 / self.members, 1) if self.members else None

    @property
    def below_share(self) -> float | None:
        return self.below / self.members if self.members else None


def branch_totals(
    members: Expression, span: Span, settings: Settings
) -> dict[int, BranchTraining]:
    """{branch id: its party members' 学时 together} for the members matching ``members``."""
    meetings, records = _per_member(members, span, settings)
    total = fn.COALESCE(meetings.c.minutes, 0) + fn.COALESCE(records.c.minutes, 0)
    required = settings.training.required_hours_per_year * 60
    query = (
        Member.select(
            Member.branch,
            fn.COUNT(Member.id),
            fn.SUM(total),
            fn.SUM(Case(None, [(total < required, 1)], 0)),
        )
        .join(meetings, JOIN.LEFT_OUTER, on=(meetings.c.member_id == Member.id))
        .switch(Member)
        .join(records, JOIN.LEFT_OUTER, on=(records.c.member_id == Member.id))
        .where(members, Member.status.in_(PARTY_MEMBER_STATUSES))
        .group_by(Member.branch)
        .tuples()
    )
    return {b: BranchTraining(int(n), int(m or 0), int(lo or 0)) for b, n, m, lo in query}


@dataclass(frozen=True)
class BranchProgress:
    """A branch's party members against a bar of minutes: each member's 学时 counted up to the
    bar (``counted``), and how many reached it."""

    members: int
    counted: int  # minutes, each member's capped at the bar
    reached: int


def branch_progress(
    members: Expression, span: Span, bar_minutes: int, settings: Settings
) -> dict[int, BranchProgress]:
    """{branch id: its party members' 学时 over the span against ``bar_minutes`` each} for the
    members matching ``members``, in one statement."""
    meetings, records = _per_member(members, span, settings)
    total = fn.COALESCE(meetings.c.minutes, 0) + fn.COALESCE(records.c.minutes, 0)
    query = (
        Member.select(
            Member.branch,
            fn.COUNT(Member.id),
            fn.SUM(Case(None, [(total < bar_minutes, total)], bar_minutes)),
            fn.SUM(Case(None, [(total >= bar_minutes, 1)], 0)),
        )
        .join(meetings, JOIN.LEFT_OUTER, on=(meetings.c.member_id == Member.id))
        .switch(Member)
        .join(records, JOIN.LEFT_OUTER, on=(records.c.member_id == Member.id))
        .where(members, Member.status.in_(PARTY_MEMBER_STATUSES))
        .group_by(Member.branch)
        .tuples()
    )
    return {b: BranchProgress(int(n), int(c or 0), int(r or 0)) for b, n, c, r in query}
