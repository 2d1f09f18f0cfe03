"""学时 as each reader may see them: a member their own year (我的, the mini-program), a
branch's managers each party member of the branch, a committee each branch's average and the
share below the bar — never names across branches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.config import Settings
from handlers.branches import branch_acted_for
from handlers.training.hours import (
    BranchTraining,
    branch_totals,
    meeting_condition,
    member_minutes,
    year_span,
)
from handlers.volunteer.base import local_today
from models.meetings import KINDS, Attendance, Meeting, duration_minutes
from models.org import BRANCH_MANAGERS, Branch, Member
from models.training import TrainingRecord


@dataclass(frozen=True)
class Counted:
    """One thing that counted: a meeting attended, or a recorded training."""

    day: date
    kind: str  # a meeting kind, or "record"
    title: str
    minutes: int

    @property
    def kind_label(self) -> str:
        return "培训" if self.kind == "record" else KINDS.get(self.kind, self.kind)


@dataclass(frozen=True)
class YearHours:
    """A member's 学时 of the year so far against the year's bar."""

    year: int
    meeting_minutes: int
    other_minutes: int
    required_hours: int

    @property
    def minutes(self) -> int:
        return self.meeting_minutes + self.other_minutes

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def below(self) -> bool:
        return self.minutes < self.required_hours * 60


@dataclass(frozen=True)
class MyTraining:
    hours: YearHours
    items: list[Counted]  # newest first


def _year(now: datetime, settings: Settings, year: int | None) -> int:
    return year or local_today(now, settings).year


def year_hours(member: Member, *, now: datetime, settings: Settings) -> YearHours:
    """The member's own 学时 this year (我的, GET /me): one statement."""
    span = year_span(local_today(now, settings).year, now, settings)
    row = member_minutes(Member.id == member.id, span, settings).first()
    meeting, other = (int(row[3]), int(row[4])) if row else (0, 0)
    return YearHours(span.year, meeting, other, settings.training.required_hours_per_year)


def my_training(
    member: Member, *, now: datetime, settings: Settings, year: int | None = None
) -> MyTraining:
    """The member's own year: the total and every meeting and training that counted."""
    span = year_span(_year(now, settings, year), now, settings)
    cap = settings.training.max_minutes_per_meeting
    items = [
        Counted(local_today(starts_at, settings), kind, title, int(minutes))
        for kind, title, starts_at, minutes in Attendance.select(
            Meeting.kind, Meeting.title, Meeting.starts_at, duration_minutes(cap)
        )
        .join(Meeting, on=Attendance.meeting == Meeting.id)
        .where(
            Attendance.member == member.id,
            Attendance.status == "present",
            meeting_condition(span, settings),
        )
        .tuples()
    ]
    items += [
        Counted(day, "record", title, minutes)
        for title, day, minutes in TrainingRecord.select(
            TrainingRecord.title, TrainingRecord.day, TrainingRecord.minutes
        )
        .where(
            TrainingRecord.member == member.id,
            TrainingRecord.day >= span.first,
            TrainingRecord.day <= span.last,
        )
        .tuples()
    ]
    items.sort(key=lambda c: c.day, reverse=True)
    meeting = sum(c.minutes for c in items if c.kind != "record")
    other = sum(c.minutes for c in items if c.kind == "record")
    required = settings.training.required_hours_per_year
    return MyTraining(YearHours(span.year, meeting, other, required), items)


@dataclass(frozen=True)
class MemberHours:
    member_id: int
    name: str
    hours: YearHours


@dataclass(frozen=True)
class BranchHours:
    branch: Branch
    year: int
    required_hours: int
    items: list[MemberHours]  # by id
    total: int
    limit: int
    offset: int
    together: BranchTraining


def branch_training(
    actor: Member,
    branch_id: int | None,
    *,
    now: datetime,
    settings: Settings,
    limit: int,
    offset: int,
    year: int | None = None,
) -> BranchHours:
    """Each party member of the branch with their 学时 this year, for the branch's managers."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    span = year_span(_year(now, settings, year), now, settings)
    required = settings.training.required_hours_per_year
    rows = list(member_minutes(Member.branch == branch.id, span, settings))
    items = [
        MemberHours(i, name, YearHours(span.year, int(m), int(o), required))
        for i, name, _b, m, o in rows
    ]
    together = BranchTraining(
        len(items), sum(i.hours.minutes for i in items), sum(i.hours.below for i in items)
    )
    page = items[offset : offset + limit]
    return BranchHours(branch, span.year, required, page, len(items), limit, offset, together)


def committee_training(
    committee_id: int, at: datetime, settings: Settings, year: int | None = None
) -> dict[int, BranchTraining]:
    """{branch id: its members' 学时 together} for every branch of the committee: one query."""
    span = year_span(year or local_today(at, settings).year, at, settings)
    ours = Branch.select(Branch.id).where(Branch.committee == committee_id)
    return branch_totals(Member.branch.in_(ours), span, settings)
