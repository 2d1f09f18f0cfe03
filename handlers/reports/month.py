"""The monthly report (月报) of one branch, or of a committee with every branch, from the records.

What it holds, per branch (rules decided here where DOMAIN.md and issue 14 are silent):

- Study: party members and how many of them checked in, per week of the month (Monday to
  Sunday, cut at the month's ends) and for the whole month. Rates only, never a ranking.
- Meetings: each required kind's requirement for the periods holding the month (the
  compliance calendar, judged at the month's end or now for the current month), and every
  meeting held in the month (scheduled, starting in the month; cancelled ones left out) with
  its 应到 (expected), 实到 (present), 请假 (approved leave) and, once it ended, 缺席 (the rest:
  pending or refused leave counts as absent, as in the attendance report).
- Dues for the month (integer fen): expected and collected as branch_month_summary counts
  them; owed is expected minus collected, never below 0; voluntary is the voluntary payments
  recorded in the month and not reversed.
- Volunteer service: the month's confirmed entries per branch (hours, people, entries).
- 学时: the year's training hours up to the month's end (or now), per branch: party members,
  hours together, the average, and how many are under training.required_hours_per_year.
- People: members under the six-month rule (3, 5, 6+ months), lost contact and probation
  ending, as the secretary's digest finds them at the month's end (or now). A branch's report
  names them; a committee's report counts them per branch only.

Access: the operator (None) any branch or committee; a branch manager their branch; a committee
admin their committee and each of its branches. A branch's report, which names people, is noted
in the read log (查阅记录) with whom it names; a committee's names no one and is not. Every
read covers all branches of the scope at once: a constant number of queries, whatever the
number of branches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN, Case, Expression, fn

from core.clock import UTC
from core.config import Settings
from handlers.assessment import CommitteeAssessment, committee_scores
from handlers.branches import branch_acted_for
from handlers.calendar import Requirement, all_branches_calendar, branch_calendar
from handlers.dues import (
    BranchMonthSummary,
    LapseAlert,
    month_summary_and_lapse_alerts_started,
    side_reads,
)
from handlers.errors import Invalid, NotFound
from handlers.privacy.reads import note_file_read
from handlers.reminders import BranchAlerts, StudyRate, people_alerts, study_participation
from handlers.roster.access import forbidden, require_role
from handlers.study.plans import plan_scope
from handlers.training import BranchTraining, branch_totals, year_span
from handlers.volunteer import BranchService, month_service
from models.dues import DuesPayment
from models.meetings import KINDS, Attendance, Meeting, MeetingAttendee
from models.org import BRANCH_MANAGERS, Branch, Committee, Member


@dataclass(frozen=True)
class MeetingRow:
    """One meeting of the month and its attendance counts (absent None until it ended)."""

    branch_id: int
    day: date
    kind: str
    title: str
    expected: int
    present: int
    leave: int
    absent: int | None

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)


@dataclass
class BranchMonth:
    """One branch's month: study, meetings, dues and the people to act on."""

    branch_id: int
    name: str
    study: StudyRate
    weeks: list[StudyRate]
    requirements: list[Requirement] = field(default_factory=list)
    meetings: list[MeetingRow] = field(default_factory=list)
    dues: BranchMonthSummary | None = None
    voluntary_fen: int = 0
    lapse: list[LapseAlert] = field(default_factory=list)
    lost: list[tuple[int, str]] = field(default_factory=list)
    probation: list[tuple[int, str, date]] = field(default_factory=list)
    volunteer: BranchService = field(default_factory=BranchService)
    training: BranchTraining = field(default_factory=BranchTraining)

    @property
    def owed_fen(self) -> int:
        if self.dues is None:
            return 0
        return max(self.dues.expected_fen - self.dues.collected_fen, 0)

    @property
    def lapse_members(self) -> int:
        return len({a.member_id for a in self.lapse})


@dataclass(frozen=True)
class Report:
    """A month's report for one branch (``scope`` "branch") or one committee ("committee")."""

    scope: str
    name: str
    year: int
    month: int
    as_of: date  # the local day the people and the calendar are judged on
    weeks: list[tuple[date, date]]
    branches: list[BranchMonth]
    lost_contact_days: int
    complete: bool  # the month is over: what it still owed was missed
    required_hours: int  # training.required_hours_per_year
    # A committee's complete month: its branches' assessment (星级评定), ranked.
    assessment: CommitteeAssessment | None = None

    @property
    def named(self) -> bool:
        """Whether the report may name people: a branch's report, for its managers."""
        return self.scope == "branch"

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def filename(self) -> str:
        return f"{self.name}{self.year}年{self.month}月月报.xlsx"


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def month_weeks(first: date) -> list[tuple[date, date]]:
    """The month's weeks, Monday to Sunday, the first and last cut at the month's ends."""
    last = _next_month(first) - timedelta(days=1)
    weeks = []
    start = first
    while start <= last:
        end = min(start + timedelta(days=6 - start.weekday()), last)
        weeks.append((start, end))
        start = end + timedelta(days=1)
    return weeks


def report_scope(
    actor: Member | None, branch_id: int | None, committee_id: int | None
) -> tuple[str, str, int, list[Branch]]:
    """(scope, name, id, branches) the actor may see, or a refusal."""
    if committee_id is not None:
        if actor is not None:
            require_role(actor, "committee_admin")
            if actor.branch.committee_id != committee_id:
                raise forbidden()
        committee = Committee.get_or_none(Committee.id == committee_id)
        if committee is None:
            raise NotFound("没有这个党委。")
        branches = list(
            Branch.select(Branch.id, Branch.name)
            .where(Branch.committee == committee_id)
            .order_by(Branch.id)
        )
        return "committee", committee.name, committee.id, branches
    if actor is not None:
        branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    else:
        branch = Branch.get_or_none(Branch.id == branch_id) if branch_id else None
        if branch is None:
            raise NotFound("没有这个支部。")
    return "branch", branch.name, branch.id, [branch]


def _moment(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def month_report(
    actor: Member | None,
    year: int,
    month: int,
    *,
    branch_id: int | None = None,
    committee_id: int | None = None,
    settings: Settings,
    now: datetime,
) -> Report:
    """The monthly report of one branch (``branch_id``, default the actor's) or of a
    committee (``committee_id``), for a month not after the current one."""
    tz = ZoneInfo(settings.app.timezone)
    first = date(year, month, 1)
    start, end = _moment(first, tz), _moment(_next_month(first), tz)
    if start > now:
        raise Invalid(f"{year}年{month}月还没有到，不能生成月报。", errcode="invalid_month")
    scope, name, scope_id, branches = report_scope(actor, branch_id, committee_id)
    at = min(now, end)  # the month's end, or now in the current month
    by_id = {b.id: BranchMonth(b.id, b.name, StudyRate(0, 0, 0), []) for b in branches}
    weeks = month_weeks(first)
    members, meetings = _conditions(scope, scope_id)
    key = "branch_id" if scope == "branch" else "committee_id"
    # The long aggregates are the database's work, on worker threads (their own connections
    # and conditions): the dues' two first (the longest), then the study rates; meanwhile
    # this thread works out the calendar, then the dues, in Python. The month's dues and
    # the six-month rule at `at` come from one load of the members' dues.
    with (
        month_summary_and_lapse_alerts_started(first, at, settings, **{key: scope_id}) as dues,
        side_reads() as start_read,
    ):
        study = start_read(_study_rates, scope, scope_id, first, weeks)
        span = year_span(first.year, at, settings)
        training = start_read(branch_totals, members, span, settings)
        _add_meetings(by_id, scope, scope_id, at, settings, meetings & _within(start, end))
        summaries, lapse = dues()
        _add_dues(by_id, summaries, members, start, end)
        _add_people(by_id, people_alerts(at, settings, lapse=lapse, **{key: scope_id}))
        _add_study(by_id, *study())
        _add_people_figures(by_id, month_service(first, **{key: scope_id}), training())
    as_of = (at - timedelta(microseconds=1)).astimezone(tz).date()
    lost_days = settings.alerts.lost_contact_days
    rows = list(by_id.values())
    complete = at == end
    rated = None
    if scope == "committee" and complete:
        rated = committee_scores(scope_id, first, settings=settings, now=now)
    required = settings.training.required_hours_per_year
    report = Report(
        scope, name, year, month, as_of, weeks, rows, lost_days, complete, required, rated
    )
    if report.named:
        _note_named(actor, report, scope_id, now)
    return report


def _note_named(actor: Member | None, report: Report, branch_id: int, now: datetime) -> None:
    """A branch's report names people (人员提醒): note the read and whom it names."""
    named = set()
    for row in report.branches:
        named |= {a.member_id for a in row.lapse}
        named |= {member_id for member_id, *_ in row.lost}
        named |= {member_id for member_id, *_ in row.probation}
    subject = f"{report.name}{report.year}年{report.month}月月报"
    note_file_read(
        actor, "report", subject=subject, scope="branch", scope_id=branch_id, named=named, now=now
    )


def month_report_named(
    year: int,
    month: int,
    *,
    committee_name: str | None,
    branch_name: str | None,
    settings: Settings,
    now: datetime,
) -> Report:
    """The operator's report by name: a branch (within --committee if given), a committee, or
    the only committee there is."""
    scope = plan_scope(committee_name=committee_name, branch_name=branch_name)
    return month_report(
        None,
        year,
        month,
        branch_id=scope.branch_id,
        committee_id=scope.committee_id,
        settings=settings,
        now=now,
    )


def _within(start: datetime, end: datetime) -> Expression:
    return (
        (Meeting.status == "scheduled") & (Meeting.starts_at >= start) & (Meeting.starts_at < end)
    )


def _conditions(scope: str, scope_id: int) -> tuple[Expression, Expression]:
    """The scope's members and meetings (new objects each call: a thread renders its own)."""
    if scope == "branch":
        return Member.branch == scope_id, Meeting.branch == scope_id
    ours = Branch.select(Branch.id).where(Branch.committee == scope_id)
    return Member.branch.in_(ours), Meeting.branch.in_(ours)


def _study_rates(
    scope: str, scope_id: int, first: date, weeks: list[tuple[date, date]]
) -> tuple[dict[int, StudyRate], list[dict[int, StudyRate]]]:
    """The month's and each week's rates per branch: 2 queries each."""
    members, _ = _conditions(scope, scope_id)
    whole = study_participation(first, weeks[-1][1], members)
    return whole, [study_participation(a, b, members) for a, b in weeks]


def _add_study(
    by_id: dict[int, BranchMonth],
    whole: dict[int, StudyRate],
    weekly: list[dict[int, StudyRate]],
) -> None:
    for branch_id, rate in whole.items():
        if branch_id in by_id:
            by_id[branch_id].study = rate
    for rates in weekly:
        for branch_id, row in by_id.items():
            row.weeks.append(rates.get(branch_id) or StudyRate(row.study.members, 0, 0))


def _add_meetings(
    by_id: dict[int, BranchMonth],
    scope: str,
    scope_id: int,
    at: datetime,
    settings: Settings,
    meetings: Expression,
) -> None:
    """The calendar's requirements, and the month's meetings with their counts (2 queries)."""
    judged_at = at - timedelta(microseconds=1)  # at the month's end: still inside the month
    if scope == "branch":
        reqs = branch_calendar(scope_id, judged_at, settings)
    else:
        reqs = all_branches_calendar(judged_at, settings, scope_id)
    for req in reqs:
        if req.branch_id in by_id:
            by_id[req.branch_id].requirements.append(req)
    tz = ZoneInfo(settings.app.timezone)
    counts = _attendance_counts(meetings)
    for meeting_id, branch_id, kind, title, starts_at, ends_at in (
        Meeting.select(
            Meeting.id,
            Meeting.branch,
            Meeting.kind,
            Meeting.title,
            Meeting.starts_at,
            Meeting.ends_at,
        )
        .where(meetings)
        .order_by(Meeting.starts_at, Meeting.id)
        .tuples()
    ):
        expected, present, leave = counts.get(meeting_id, (0, 0, 0))
        absent = expected - present - leave if ends_at <= at else None
        row = MeetingRow(
            branch_id,
            starts_at.astimezone(tz).date(),
            kind,
            title,
            expected,
            present,
            leave,
            absent,
        )
        by_id[branch_id].meetings.append(row)


def _attendance_counts(meetings: Expression) -> dict[int, tuple[int, int, int]]:
    """{meeting id: (expected, present, approved leave)} in one grouped query."""
    present = fn.SUM(Case(None, [(Attendance.status == "present", 1)], 0))
    leave = fn.SUM(
        Case(
            None,
            [((Attendance.status == "leave") & (Attendance.leave_status == "approved"), 1)],
            0,
        )
    )
    query = (
        MeetingAttendee.select(
            MeetingAttendee.meeting, fn.COUNT(MeetingAttendee.id), present, leave
        )
        .join(Meeting, on=MeetingAttendee.meeting == Meeting.id)
        .switch(MeetingAttendee)
        .join(
            Attendance,
            JOIN.LEFT_OUTER,
            on=(Attendance.meeting == MeetingAttendee.meeting)
            & (Attendance.member == MeetingAttendee.member),
        )
        .where(meetings)
        .group_by(MeetingAttendee.meeting)
        .tuples()
    )
    return {m: (int(e), int(p or 0), int(lv or 0)) for m, e, p, lv in query}


def _add_dues(
    by_id: dict[int, BranchMonth],
    summaries: list[BranchMonthSummary],
    members: Expression,
    start: datetime,
    end: datetime,
) -> None:
    """The month's dues per branch, and voluntary payments recorded in it (not reversed)."""
    for summary in summaries:
        if summary.branch_id in by_id:
            by_id[summary.branch_id].dues = summary
    reversed_ids = DuesPayment.select(DuesPayment.reverses).where(
        DuesPayment.kind == "reversal", DuesPayment.reverses.is_null(False)
    )
    voluntary = (
        DuesPayment.select(Member.branch, fn.SUM(DuesPayment.amount_fen))
        .join(Member, on=DuesPayment.member == Member.id)
        .where(
            members,
            DuesPayment.kind == "voluntary",
            DuesPayment.recorded_at >= start,
            DuesPayment.recorded_at < end,
            DuesPayment.id.not_in(reversed_ids),
        )
        .group_by(Member.branch)
        .tuples()
    )
    for branch_id, fen in voluntary:
        if branch_id in by_id:
            by_id[branch_id].voluntary_fen = int(fen or 0)


def _add_people(by_id: dict[int, BranchMonth], found: dict[int, BranchAlerts]) -> None:
    """The six-month rule, lost contact and probation ending, as the digest finds them."""
    for branch_id, alerts in found.items():
        row = by_id.get(branch_id)
        if row is not None:
            row.lapse = list(alerts.lapse)
            row.lost = list(alerts.lost_contact)
            row.probation = list(alerts.probation)


def _add_people_figures(
    by_id: dict[int, BranchMonth], service: dict[int, Any], training: dict[int, Any]
) -> None:
    """The month's confirmed volunteer service and the year's 学时 up to the report's moment,
    per branch (the 学时 aggregate is read on the side-read worker, beside the dues')."""
    for branch_id, found in service.items():
        if branch_id in by_id:
            by_id[branch_id].volunteer = found
    for branch_id, hours in training.items():
        if branch_id in by_id:
            by_id[branch_id].training = hours
