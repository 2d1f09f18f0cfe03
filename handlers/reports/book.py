"""The organizational-life record book (组织生活记录本) of a branch for a year, from the records.

What it holds (rules decided here where DOMAIN.md and issue 14 are silent):

- The front page: each required meeting kind (the compliance calendar's rules, [meetings]
  frequency_*) with its periods of the year so far — how many were due, how many were met
  (a meeting held in the period, with quorum where one is needed, as the calendar counts), the
  meetings held, and the periods missed; the current period, still open, is not a miss. Periods
  before the branch existed are not due. Then the meetings whose minutes are still empty, as
  things to complete.
- One section per meeting of the year that has started (cancelled ones left out), oldest first:
  kind, time, place, host, recorder, 应到 and 实到 with the names present, on leave (approved,
  with the reason) and absent (once ended: not signed in, pending or refused leave included,
  as in the attendance report), then the theme, the minutes and the decisions as recorded.

Access: the operator (None) any branch; a branch manager their branch; a committee admin any
branch of their committee. A constant number of queries, whatever the number of meetings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from peewee import Expression

from core.clock import local_day
from core.config import Settings
from handlers.calendar import required_kinds
from handlers.calendar.counts import Counts, meeting_counts, merge
from handlers.calendar.periods import Period, period_of
from handlers.errors import DomainError, Invalid
from handlers.meetings import AttendanceReport, classify_attendance
from handlers.privacy.reads import note_file_read
from handlers.reports.month import report_scope
from handlers.study.plans import plan_scope
from models.meetings import KINDS, Attendance, Meeting, MeetingAttendee
from models.org import Branch, Committee, Member, PartyGroup

FREQUENCY_LABELS = {"month": "每月", "quarter": "每季度", "year": "每年"}


@dataclass(frozen=True)
class BookRequirement:
    """One required kind (for kind "group": one party group) over the year so far."""

    kind_label: str
    group_name: str
    frequency_label: str
    due: int  # periods of the year begun so far (the current one included)
    met: int  # of those, periods with a meeting held (with quorum where needed)
    held: int  # meetings held, all periods
    missed: list[Period]  # ended periods with none held, oldest first
    open_period: Period | None  # the current period while it is still open and unmet


@dataclass(frozen=True)
class BookMeeting:
    """One meeting as the record book prints it; times are local."""

    number: int
    kind_label: str
    title: str
    place: str
    starts_at: datetime
    ends_at: datetime
    host: str
    recorder: str
    expected: int
    present: list[str]
    leave: list[tuple[str, str]]  # approved leave: (name, reason)
    absent: list[str]  # once ended; names with a note for pending or refused leave
    ended: bool
    quorum: str  # "" where no quorum applies, else e.g. "已达到法定人数（7/12）"
    minutes: str
    decisions: str

    @property
    def heading(self) -> str:
        day = f"{self.starts_at.month}月{self.starts_at.day}日"
        title = f"：{self.title}" if self.title else ""
        return f"{self.number}. {day} {self.kind_label}{title}"

    @property
    def when(self) -> str:
        start, end = self.starts_at, self.ends_at
        text = f"{start.year}年{start.month}月{start.day}日 {start:%H:%M}"
        if end.date() == start.date():
            return f"{text}—{end:%H:%M}"
        return f"{text}—{end.month}月{end.day}日 {end:%H:%M}"


@dataclass(frozen=True)
class RecordBook:
    branch_name: str
    committee_name: str
    year: int
    as_of: date  # the last local day the book covers (the year's end, or today)
    complete: bool  # the year is over
    requirements: list[BookRequirement]
    meetings: list[BookMeeting]

    @property
    def missing_minutes(self) -> list[BookMeeting]:
        """Meetings that have ended with no minutes recorded: things to complete."""
        return [m for m in self.meetings if m.ended and not m.minutes.strip()]

    def filename(self, extension: str) -> str:
        return f"{self.branch_name}{self.year}年组织生活记录本.{extension}"

    def ascii_filename(self, extension: str) -> str:
        """The download's ASCII fallback name, for clients that cannot read filename*."""
        return f"record-book-{self.year}.{extension}"


def _moment(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def record_book(
    actor: Member | None,
    year: int,
    *,
    branch_id: int | None = None,
    settings: Settings,
    now: datetime,
) -> RecordBook:
    """The record book of one branch (``branch_id``, default the actor's) for a year not after
    the current one: up to the year's end, or up to now in the current year. Noted in the read
    log with the members it names (attendees, hosts, recorders)."""
    tz = ZoneInfo(settings.app.timezone)
    start, end = _moment(date(year, 1, 1), tz), _moment(date(year + 1, 1, 1), tz)
    if start > now:
        raise Invalid(f"{year}年还没有到，没有组织生活记录。", errcode="invalid_year")
    _, _, branch_id, _ = report_scope(actor, branch_id, None)
    branch = Branch.get_by_id(branch_id)
    committee = Committee.get_by_id(branch.committee_id)
    at = min(now, end)
    as_of = (at - timedelta(microseconds=1)).astimezone(tz).date()
    requirements = _requirements(branch, as_of, at, settings, tz)
    meetings, named = _meetings(branch.id, start, at, now, tz)
    subject = f"{branch.name}{year}年组织生活记录本"
    note_file_read(
        actor, "book", subject=subject, scope="branch", scope_id=branch.id, named=named, now=now
    )
    return RecordBook(branch.name, committee.name, year, as_of, at == end, requirements, meetings)


def record_book_named(
    year: int,
    *,
    committee_name: str | None,
    branch_name: str | None,
    settings: Settings,
    now: datetime,
) -> RecordBook:
    """The operator's record book of a branch named on the command line."""
    if not branch_name:
        raise DomainError("记录本按支部生成：请用 --branch 指定支部名称。")
    scope = plan_scope(committee_name=committee_name, branch_name=branch_name)
    return record_book(None, year, branch_id=scope.branch_id, settings=settings, now=now)


# ---- the front page: required against held ------------------------------------------------


def _year_periods(as_of: date, frequency: str, since: date) -> list[Period]:
    """The periods of as_of's year begun by as_of and not ended before ``since``, newest
    first (meeting_counts' order)."""
    periods = [period_of(as_of, frequency)]
    while periods[-1].start.year == as_of.year and periods[-1].start.month > 1:
        periods.append(periods[-1].previous())
    return [p for p in periods if p.end >= since]


def _requirements(
    branch: Branch, as_of: date, at: datetime, settings: Settings, tz: ZoneInfo
) -> list[BookRequirement]:
    """Each required kind's periods of the year: one counting query per frequency."""
    since = local_day(branch.created_at, tz)
    kinds = required_kinds(settings)
    counted: dict[tuple[int | None, str], Counts] = {}
    periods: dict[str, list[Period]] = {}
    for frequency in sorted(set(kinds.values())):
        these = _year_periods(as_of, frequency, since)
        periods[frequency] = these
        if not these:
            continue
        named = {kind: f for kind, f in kinds.items() if f == frequency}
        found = meeting_counts(named, {frequency: these}, at, tz, Meeting.branch == branch.id)
        for (_, group_id, kind), value in found.items():
            counted[(group_id, kind)] = value
    groups = list(
        PartyGroup.select(PartyGroup.id, PartyGroup.name)
        .where(PartyGroup.branch == branch.id)
        .order_by(PartyGroup.id)
    )
    rows = []
    for kind, frequency in kinds.items():
        these = periods[frequency]
        depth = len(these)
        if kind == "group":
            targets = [(g.name, counted.get((g.id, kind))) for g in groups]
        else:
            parts = [v for (_, k), v in counted.items() if k == kind]
            targets = [("", merge(parts, depth))]
        for group_name, value in targets:
            rows.append(_requirement(kind, frequency, group_name, these, value, as_of, at, tz))
    return rows


def _requirement(
    kind: str,
    frequency: str,
    group_name: str,
    periods: list[Period],
    value: Counts | None,
    as_of: date,
    at: datetime,
    tz: ZoneInfo,
) -> BookRequirement:
    held = value.held if value else [0] * len(periods)
    missed: list[Period] = []
    open_period, met = None, 0
    for period, count in zip(reversed(periods), reversed(held), strict=True):
        if count:
            met += 1
        elif _moment(period.end + timedelta(days=1), tz) <= at:
            missed.append(period)
        else:
            open_period = period
    return BookRequirement(
        KINDS[kind],
        group_name,
        FREQUENCY_LABELS[frequency],
        len(periods),
        met,
        sum(held),
        missed,
        open_period,
    )


# ---- the meetings ---------------------------------------------------------------------------


def _names(ids: Iterable[int]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(Member.select(Member.id, Member.name).where(Member.id.in_(wanted)).tuples())


def _meetings(
    branch_id: int, start: datetime, at: datetime, now: datetime, tz: ZoneInfo
) -> tuple[list[BookMeeting], set[int]]:
    """The year's meetings begun by ``at``, with attendance, and the ids of the members they
    name: three queries in all."""
    in_book: Expression = (
        (Meeting.branch == branch_id)
        & (Meeting.status == "scheduled")
        & (Meeting.starts_at >= start)
        & (Meeting.starts_at < at)
    )
    meetings = list(Meeting.select().where(in_book).order_by(Meeting.starts_at, Meeting.id))
    ids = [m.id for m in meetings]
    expected: dict[int, list[Member]] = {i: [] for i in ids}
    for row in (
        MeetingAttendee.select(MeetingAttendee.meeting, Member)
        .join(Member)
        .where(MeetingAttendee.meeting.in_(ids))
        .order_by(Member.id)
    ):
        expected[row.meeting_id].append(row.member)
    rows: dict[int, dict[int, Attendance]] = {i: {} for i in ids}
    for a in Attendance.select().where(Attendance.meeting.in_(ids)):
        rows[a.meeting_id][a.member_id] = a
    people = _names([m.host_id for m in meetings] + [m.recorder_id for m in meetings])
    book = []
    for number, meeting in enumerate(meetings, start=1):
        report = classify_attendance(meeting, expected[meeting.id], rows[meeting.id], now=now)
        book.append(_book_meeting(number, meeting, report, people, tz))
    named = {m.id for members in expected.values() for m in members} | set(people)
    return book, named


def _absent(report: AttendanceReport) -> list[str]:
    pending = {m.id for m, _ in report.leave_pending}
    refused = {m.id for m, _ in report.leave_rejected}
    names = []
    for member in report.not_signed:
        note = "（请假待审批）" if member.id in pending else ""
        note = "（请假未批准）" if member.id in refused else note
        names.append(member.name + note)
    return names


def _book_meeting(
    number: int, meeting: Meeting, report: AttendanceReport, people: dict[int, str], tz: ZoneInfo
) -> BookMeeting:
    quorum = ""
    if report.quorum_needed is not None:
        counts = (
            f"（有表决权的党员实到 {report.quorum_present} 人，至少需 {report.quorum_needed} 人）"
        )
        if report.ended:
            quorum = ("已达到法定人数" if report.quorum_met else "未达到法定人数") + counts
    return BookMeeting(
        number=number,
        kind_label=meeting.kind_label,
        title=meeting.title,
        place=meeting.place,
        starts_at=meeting.starts_at.astimezone(tz),
        ends_at=meeting.ends_at.astimezone(tz),
        host=people.get(meeting.host_id, ""),
        recorder=people.get(meeting.recorder_id, ""),
        expected=len(report.expected),
        present=[m.name for m in report.present],
        leave=[(m.name, reason) for m, reason in report.leave_approved],
        absent=_absent(report) if report.ended else [],
        ended=report.ended,
        quorum=quorum,
        minutes=meeting.minutes,
        decisions=meeting.decisions,
    )
