"""The six-month rule: consecutive months unpaid or without attending a meeting."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN, Case, Expression

from core.clock import UTC
from handlers.dues.bulk import (
    MATERIALIZED_CTE,
    Ledger,
    Start,
    bit_union,
    gc_paused,
    packed_rows,
    side_reads,
    start_ledger,
)
from handlers.dues.loaders import party_scope
from handlers.dues.money import Settings
from handlers.dues.months import add_months, this_month
from handlers.dues.owing import MemberOwing, owing_of
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import Branch, Member

REASONS = {"dues": "未交纳党费", "meetings": "未参加组织生活"}


@dataclass(frozen=True)
class LapseCount:
    """A member's consecutive months unpaid and without attending, counted back from last month."""

    member_id: int
    member_name: str
    branch_id: int
    branch_name: str
    dues_months: int
    dues_since: date | None
    dues_at_least: bool  # the run reaches the lookback limit: it may be longer
    meeting_months: int
    meeting_since: date | None
    meeting_at_least: bool


@dataclass(frozen=True)
class LapseAlert:
    """A member at 3, 5 or 6+ consecutive months for one reason."""

    branch_id: int
    branch_name: str
    member_id: int
    member_name: str
    reason: str  # dues | meetings
    months: int
    at_least: bool
    level: int  # the highest threshold reached: alert_first, alert_second or lapse months
    since: date

    @property
    def reason_label(self) -> str:
        return REASONS[self.reason]


def _utc(month: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(month, time(), tzinfo=tz).astimezone(UTC)


def _month_bit(column: Any, bounds: list[tuple[Any, Any]]) -> Case:
    """1 << k for the k-th range (newest first) that holds the column's value."""
    return Case(
        None,
        [((column >= start) & (column < end), 1 << k) for k, (start, end) in enumerate(bounds)],
    )


def _meeting_months(
    scope: Any, months: list[date], at: datetime, tz: ZoneInfo
) -> dict[int, tuple[int, int, int]]:
    """Per member (of `scope`, or everyone: None), bit masks over the months (bit k =
    months[k], newest first) of the months with a meeting they were expected at, attended, and
    had approved leave for.

    One aggregated query: only meetings held (scheduled and ended by `at`) count; the OR of a
    member's rows' bits (bit_union) is the mask. Each held
    meeting's bit is worked out once, in a materialized CTE, not once per attendee and mask.
    The rows come back packed in one string (packed_rows): this runs on a worker thread.
    """
    bounds = [(_utc(m, tz), _utc(add_months(m, 1), tz)) for m in months]
    held = (
        Meeting.select(Meeting.id, _month_bit(Meeting.starts_at, bounds).alias("bit"))
        .where(
            Meeting.status == "scheduled",
            Meeting.ends_at <= at,
            Meeting.starts_at >= bounds[-1][0],
            Meeting.starts_at < bounds[0][1],
        )
        .cte("held_meeting", materialized=MATERIALIZED_CTE or None)
    )
    bit = held.c.bit
    present = Attendance.status == "present"
    excused = (Attendance.status == "leave") & (Attendance.leave_status == "approved")
    query = (
        MeetingAttendee.select(
            MeetingAttendee.member.alias("c0"),
            bit_union(bit).alias("c1"),
            bit_union(Case(None, [(present, bit)])).alias("c2"),
            bit_union(Case(None, [(excused, bit)])).alias("c3"),
        )
        .join(held, on=MeetingAttendee.meeting == held.c.id)
        .join(
            Attendance,
            JOIN.LEFT_OUTER,
            on=(Attendance.meeting == MeetingAttendee.meeting)
            & (Attendance.member == MeetingAttendee.member),
        )
        .group_by(MeetingAttendee.member)
        .with_cte(held)
    )
    if scope is not None:
        query = query.where(MeetingAttendee.member.in_(scope))
    values = packed_rows(query, 4)
    return {
        values[i]: (values[i + 1], values[i + 2], values[i + 3]) for i in range(0, len(values), 4)
    }


_NO_RUN: tuple[int, date | None, bool] = (0, None, False)


def _dues_run(
    member: Any, ledger: Ledger, months: list[date], settings: Settings
) -> tuple[int, date | None, bool]:
    """Consecutive owed months back from last month (`months`: newest first, from the current).

    Book.state over the ledger's paid mask, where the current month is the top bit: a month is
    owed when unpaid and due (every month here but the first is before the current one).
    """
    paid = ledger.paid.get(member.id, 0)
    top = len(ledger.months) - 1
    history = ledger.assessments.get(member.id)
    if paid >> top & 1 or not history:
        return _NO_RUN  # paid this month, or no category yet ("unset": never owed)
    if len(history) == 1 and member.id not in ledger.reliefs:
        # One category and base, no relief: from the start month every month is due (or
        # every one exempt); before it, none is owed.
        if ledger.fen(history[0], settings) <= 0:
            return _NO_RUN
        start = ledger.starts[member.id]
        run, since = 0, None
        for k in range(1, len(months)):
            if paid >> (top - k) & 1 or months[k] < start:
                return run, since, False
            run, since = run + 1, months[k]
        return run, since, True
    book = ledger.book(member)
    if book.due(months[0], settings).state == "exempt":
        return _NO_RUN
    run, since = 0, None
    for k in range(1, len(months)):
        if paid >> (top - k) & 1 or book.due(months[k], settings).state != "due":
            return run, since, False
        run, since = run + 1, months[k]
    return run, since, True


def _meeting_run(
    masks: tuple[int, int, int] | None, months: list[date]
) -> tuple[int, date | None, bool]:
    if masks is None:
        return 0, None, False
    expected, attended, excused = masks
    if (attended | excused) & 1:  # this month: attended or excused already
        return 0, None, False
    run, since = 0, None
    for k, month in enumerate(months[1:], start=1):
        if (attended | excused) >> k & 1:
            return run, since, False
        if expected >> k & 1:
            run, since = run + 1, month
    return run, since, since is not None and since == months[-1]


def lapse_counts(
    at: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
    member_id: int | None = None,
) -> list[LapseCount]:
    """Consecutive months unpaid and without attending, for every party member (5 queries)."""
    cond = _lapse_scope(committee_id, branch_id, member_id)
    with gc_paused():
        loaded = _lapse_load(at, settings, cond, owing=False)
        return [LapseCount(*row) for row in _lapse_rows(*loaded, settings)]


def _lapse_scope(
    committee_id: int | None, branch_id: int | None, member_id: int | None
) -> Expression | None:
    cond = None
    if committee_id is not None:
        cond = Branch.committee == committee_id
    if branch_id is not None:
        cond = Member.branch == branch_id
    if member_id is not None:
        cond = Member.id == member_id
    return cond


def _lapse_depth(settings: Settings) -> int:
    cfg = settings.dues
    return max(cfg.lookback_months, cfg.lapse_months)


def _lapse_load(
    at: datetime, settings: Settings, cond: Expression | None, *, owing: bool
) -> tuple[Ledger, dict[int, tuple[int, int, int]], list[date]]:
    """The ledger (from the current month back the lapse depth; with `owing`, from the
    earliest start month) and the meeting masks of the party members matching `cond`, and
    the months counted, newest first: 5 queries (6 with `owing`)."""
    with side_reads() as start:
        ledger, meetings, months = _start_lapse(start, at, settings, cond, owing=owing)
        return ledger(), meetings(), months


def _start_lapse(
    start: Start,
    at: datetime,
    settings: Settings,
    cond: Expression | None,
    *,
    owing: bool,
    amounts_of: date | None = None,
) -> tuple[Callable[[], Ledger], Callable[[], dict[int, tuple[int, int, int]]], list[date]]:
    """_lapse_load in steps: the paid months and the meeting aggregate start now on the
    worker threads (in this order: the paid months are needed first); the functions returned
    finish the ledger here and wait for the meetings. The months: newest first. With
    ``amounts_of`` the ledger also holds the fen paid for that month."""
    tz = ZoneInfo(settings.app.timezone)
    depth = _lapse_depth(settings)
    current = this_month(at, tz)
    months = [add_months(current, -k) for k in range(depth + 1)]  # newest first
    ledger = start_ledger(  # needed first
        start, cond, current, depth, owing=owing, amounts_of=amounts_of
    )
    scope = None if cond is None else party_scope(cond)  # as the ledger's
    meetings = start(_meeting_months, scope, months, at, tz)
    return ledger, meetings, months


def _lapse_rows(
    ledger: Ledger,
    meetings: dict[int, tuple[int, int, int]],
    months: list[date],
    settings: Settings,
) -> Iterator[tuple]:
    """The fields of a LapseCount for every party member of the ledger (no queries)."""
    for m in ledger.members:
        dues = _dues_run(m, ledger, months, settings)
        meeting = _meeting_run(meetings.get(m.id), months)
        yield (m.id, m.name, m.branch_id, m.branch_name, *dues, *meeting)


def _alert_candidates(
    ledger: Ledger,
    meetings: dict[int, tuple[int, int, int]],
    months: list[date],
    settings: Settings,
) -> Iterator[tuple]:
    """_lapse_rows of the members whose run may reach the first alert level for a reason;
    a look at the masks rules out the rest (most members) without counting their runs."""
    least = _alert_levels(settings)[0]
    depth = len(months) - 1
    # A dues run of `least` months needs this month and the `least` before it unpaid: the
    # bits from top - least to top (top, the current month's bit, is >= depth).
    shift = len(ledger.months) - 1 - least
    window = (1 << (least + 1)) - 1
    dues_possible = least <= depth
    paid = ledger.paid.get
    everything = 1 << len(months)
    for m in ledger.members:
        if not dues_possible or paid(m.id, 0) >> shift & window:
            masks = meetings.get(m.id)
            if masks is None:
                continue
            expected, attended, excused = masks
            stops = attended | excused
            if stops & 1:
                continue
            stops &= ~1
            limit = stops & -stops if stops else everything  # the first month that ends it
            if (expected & (limit - 1) & ~1).bit_count() < least:  # _meeting_run's count
                continue
        yield (
            m.id,
            m.name,
            m.branch_id,
            m.branch_name,
            *_dues_run(m, ledger, months, settings),
            *_meeting_run(meetings.get(m.id), months),
        )


def lapse_alerts(
    at: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
) -> list[LapseAlert]:
    """Members at 3, 5 or 6+ consecutive months, per reason, for all branches (5 queries)."""
    cond = _lapse_scope(committee_id, branch_id, None)
    with gc_paused():
        loaded = _lapse_load(at, settings, cond, owing=False)
        return _alerts(_alert_candidates(*loaded, settings), settings)


def _alert_levels(settings: Settings) -> list[int]:
    cfg = settings.dues
    return sorted({cfg.alert_first_months, cfg.alert_second_months, cfg.lapse_months})


def _alerts(rows: Iterable[tuple], settings: Settings) -> list[LapseAlert]:
    levels = _alert_levels(settings)
    alerts = []
    for member_id, name, branch_id, branch_name, *runs in rows:
        if runs[0] < levels[0] and runs[3] < levels[0]:
            continue  # most members
        for reason, (months, since, at_least) in (("dues", runs[:3]), ("meetings", runs[3:])):
            reached = [level for level in levels if months >= level]
            if reached and since is not None:
                alerts.append(
                    LapseAlert(
                        branch_id,
                        branch_name,
                        member_id,
                        name,
                        reason,
                        months,
                        at_least,
                        reached[-1],
                        since,
                    )
                )
    alerts.sort(key=lambda a: (a.branch_id, -a.months, a.member_id, a.reason))
    return alerts


@contextmanager
def ledger_and_lapse_alerts_started(
    at: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
    amounts_of: date | None = None,
) -> Iterator[Callable[[], tuple[Ledger, list[LapseAlert]]]]:
    """lapse_alerts, with the ledger it judged (the party members, their histories and paid
    months, and with ``amounts_of`` the fen paid for that month) for a caller with more to
    work out from it (5 queries). Entering starts the two aggregates on a worker thread
    each; the function yielded loads the rest here and returns (ledger, alerts): the
    caller's reads in between overlap with the workers'."""
    cond = _lapse_scope(committee_id, branch_id, None)
    with gc_paused(), side_reads(2) as start:
        ledger_job, meetings, months = _start_lapse(
            start, at, settings, cond, owing=False, amounts_of=amounts_of
        )

        def finish() -> tuple[Ledger, list[LapseAlert]]:
            ledger = ledger_job()
            candidates = _alert_candidates(ledger, meetings(), months, settings)
            return ledger, _alerts(candidates, settings)

        yield finish


def owing_and_lapse_alerts(
    at: datetime, settings: Settings, cond: Expression | None = None
) -> tuple[list[MemberOwing], list[LapseAlert]]:
    """all_owing and lapse_alerts at once, for the secretaries' digest: the members (all, or
    those matching `cond`, e.g. one branch's), their dues histories and paid months are
    loaded once (6 queries, not 10)."""
    with owing_and_lapse_alerts_started(at, settings, cond) as finish:
        return finish()


@contextmanager
def owing_and_lapse_alerts_started(
    at: datetime, settings: Settings, cond: Expression | None = None
) -> Iterator[Callable[[], tuple[list[MemberOwing], list[LapseAlert]]]]:
    """owing_and_lapse_alerts in two steps, for a caller with other reads to do: entering
    starts its two long aggregates (paid months, meetings) on two worker threads; the
    function yielded does the rest here and returns (owing, alerts). Reads the caller does
    in between overlap with the workers'. (Together the aggregates take longer than this
    thread's work, hence a worker each.)"""
    with gc_paused(), side_reads(2) as start:
        ledger_job, meetings, months = _start_lapse(start, at, settings, cond, owing=True)

        def finish() -> tuple[list[MemberOwing], list[LapseAlert]]:
            ledger = ledger_job()
            owing = owing_of(ledger, settings)  # while the meeting aggregate may still run
            candidates = _alert_candidates(ledger, meetings(), months, settings)
            return owing, _alerts(candidates, settings)

        yield finish


def member_lapse(member: Member, at: datetime, settings: Settings) -> LapseCount:
    """One member's consecutive months unpaid and without attending (5 queries)."""
    found = lapse_counts(at, settings, member_id=member.id)
    if found:
        return found[0]
    return LapseCount(member.id, member.name, member.branch_id, "", 0, None, False, 0, None, False)
