"""Compliance calendar: which required meetings each branch held, planned or still owes.

Rules (DOMAIN.md, 三会一课 table; frequencies from the [meetings] settings):

- Each kind with ``frequency_<kind>`` = month, quarter or year is required once per period of
  that frequency; ``none`` means not required. ``group`` (党小组会) is required per party group
  of the branch and only meetings naming that group count; a branch without groups owes none.
- Periods are calendar months, quarters and years in the branch time zone (``app.timezone``):
  a meeting belongs to the period that holds its local start day.
- A meeting **counts as held** when it is scheduled (not cancelled), its start is inside the
  period and it has ended by the given moment (``ends_at <= at``). A scheduled meeting of the
  period that has not ended yet (later in the period, or in progress) is **planned**: shown, but
  it does not satisfy the requirement yet. Cancelled meetings count for nothing.
- Quorum: a 党员大会 (``general``) or 支委会 (``committee``) counts as held only when more than
  half of its voting members were present (handlers.meetings: is_voter, quorum_needed, the
  rule the 会议 情况 report shows). One that ended without is **held without quorum**
  (``held_without_quorum``): shown, and it does not satisfy the requirement. Attendance is
  judged from the record: an ended meeting with nobody recorded present (sign-in never opened,
  attendance kept on paper) or with no voter on its list is held without quorum too, since the
  record cannot tell it from a meeting nobody came to; the text asks the secretary to 补签 those
  who were there, which also keeps the six-month rule right. Quorum is not judged before the
  meeting ends (it is planned until then), so late sign-ins and 补签 still count.
- ``days_left`` is ``period.end - today`` in calendar days: 0 on the last day of the period.
- ``previous_missed``: the previous period of the same frequency ended with nothing held. A
  branch is only judged for periods it was in the system from the first day (its ``created_at``
  local day is on or before the period start), so a newly imported branch is not flagged for
  meetings held before it used the system.
- ``status`` of a current requirement, first match wins: ``ok`` (satisfied), ``overdue`` (not
  satisfied and the previous period was missed), ``due_soon`` (not satisfied and
  ``days_left <= due_soon_days``), ``planned`` (not satisfied, something planned), ``open``
  (nothing held or planned yet, time left). A past period (``days_left < 0``, only returned for
  the 本季度 view) is ``ok`` or ``overdue`` (missed).

Every function here runs a fixed number of SQL queries (branches, groups, and one aggregated
query over meetings), whatever the number of branches.
"""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import reduce
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN, Case, Expression, Select, fn

from core.clock import UTC, local_day
from core.config import Settings
from handlers.errors import DomainError
from handlers.meetings import day_hm, quorum_tallies, require_manager
from models.base import db
from models.meetings import KINDS, QUORUM_KINDS, Meeting
from models.org import Branch, Member, PartyGroup

FREQUENCIES = ("month", "quarter", "year")
# Statuses of a requirement the secretary must act on (the digest lists them).
DUE = ("overdue", "due_soon")
SCOPES = ("month", "quarter")
# How many periods back (0 = current) the aggregated query counts for each view.
_DEPTH = {"month": 2, "quarter": 4}


@dataclass(frozen=True)
class Period:
    """One calendar month, quarter or year; `end` is the last day (inclusive)."""

    kind: str
    start: date
    end: date
    label: str

    def previous(self) -> Period:
        """Return the period of the same kind just before this one."""
        return period_of(self.start - timedelta(days=1), self.kind)

    def contains(self, day: date) -> bool:
        """Tell whether a local calendar day falls inside the period."""
        return self.start <= day <= self.end


def period_of(day: date, frequency: str) -> Period:
    """Return the month, quarter or year period that holds a local calendar day."""
    if frequency == "month":
        start = day.replace(day=1)
        label = f"{day.year}年{day.month}月"
    elif frequency == "quarter":
        quarter = (day.month - 1) // 3 + 1
        start = date(day.year, 3 * quarter - 2, 1)
        label = f"{day.year}年第{quarter}季度"
    elif frequency == "year":
        start = date(day.year, 1, 1)
        label = f"{day.year}年"
    else:
        raise ValueError(f"unknown period frequency {frequency!r}; expected month|quarter|year")
    months = {"month": 1, "quarter": 3, "year": 12}[frequency]
    after = start.month - 1 + months
    next_start = date(start.year + after // 12, after % 12 + 1, 1)
    return Period(frequency, start, next_start - timedelta(days=1), label)


@dataclass(frozen=True)
class Requirement:
    """One required meeting kind for one branch (or one party group for kind "group")."""

    branch_id: int
    group_id: int | None
    kind: str
    kind_label: str
    period: Period
    held: int
    planned: int
    satisfied: bool
    days_left: int
    status: str  # ok | overdue | due_soon | planned | open
    previous_missed: bool
    branch_name: str = ""
    group_name: str = ""
    next_planned: datetime | None = None  # start of the earliest planned meeting, aware UTC
    held_without_quorum: int = 0  # ended without quorum: not counted in held
    previous_without_quorum: int = 0  # the same, in the previous period


def required_kinds(settings: Settings) -> dict[str, str]:
    """Return {kind: frequency} for every kind the settings require, in KINDS order."""
    cfg = settings.meetings
    frequencies = {kind: getattr(cfg, f"frequency_{kind}", "none") for kind in KINDS}
    return {kind: often for kind, often in frequencies.items() if often in FREQUENCIES}


def _utc_bounds(period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the period as a half-open [start, end) range of aware UTC datetimes."""
    start = datetime.combine(period.start, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end


def _periods_back(day: date, frequency: str, depth: int) -> list[Period]:
    """Return the current period and the `depth - 1` before it, newest first."""
    periods = [period_of(day, frequency)]
    while len(periods) < depth:
        periods.append(periods[-1].previous())
    return periods


@dataclass
class _Counts:
    held: list[int]
    planned: list[int]
    short: list[int]  # held without quorum
    next_planned: datetime | None = None

    @classmethod
    def zero(cls, depth: int) -> _Counts:
        return cls([0] * depth, [0] * depth, [0] * depth)


# A meeting's state in _meeting_counts.
HELD, PLANNED, SHORT = 1, 2, 3  # ended (with quorum where one is needed), ahead, without quorum
# WITH … AS MATERIALIZED: PostgreSQL 12+, SQLite 3.35+ (older SQLite: a plain CTE).
_MATERIALIZED_CTE = sqlite3.sqlite_version_info >= (3, 35, 0)


def _meeting_counts(
    kinds: dict[str, str],
    periods: dict[str, list[Period]],
    at: datetime,
    tz: ZoneInfo,
    branch_filter: Expression | None,
) -> dict[tuple[int, int | None, str], _Counts]:
    """Count held, held-without-quorum and planned meetings per (branch, group, kind) and
    period, in one query (the quorum tallies are a grouped subquery joined to it)."""
    depth = len(next(iter(periods.values())))
    by_frequency: dict[str, list[str]] = {}
    for kind, frequency in kinds.items():
        by_frequency.setdefault(frequency, []).append(kind)
    bounds = {f: [_utc_bounds(p, tz) for p in periods[f]] for f in by_frequency}
    ended = Meeting.ends_at <= at
    window_start = min(b[-1][0] for b in bounds.values())
    window_end = max(b[0][1] for b in bounds.values())
    in_window = (
        (Meeting.status == "scheduled")
        & Meeting.kind.in_(list(kinds))
        & (Meeting.starts_at >= window_start)
        & (Meeting.starts_at < window_end)
    )
    if branch_filter is not None:
        in_window &= branch_filter
    # Has quorum, or needs none (quorum_met in SQL: present * 2 > voters).
    quorate = Meeting.kind.not_in(QUORUM_KINDS)
    tally = None
    judged = [kind for kind in QUORUM_KINDS if kind in kinds]
    if judged:
        # Only the periods counted for each kind (a monthly 支委会's two months, not the two
        # quarters the window spans for quarterly kinds): the tallies cost per attendee.
        spans = reduce(
            operator.or_,
            (
                (Meeting.kind == kind)
                & (Meeting.starts_at >= bounds[kinds[kind]][-1][0])
                & (Meeting.starts_at < bounds[kinds[kind]][0][1])
                for kind in judged
            ),
        )
        tally = quorum_tallies(in_window & ended & spans).alias("tally")
        present, voters = fn.COALESCE(tally.c.present, 0), fn.COALESCE(tally.c.voters, 0)
        quorate |= present * 2 > voters

    def in_period(k: int) -> Expression:
        return reduce(
            operator.or_,
            (
                Meeting.kind.in_(names)
                & (Meeting.starts_at >= bounds[f][k][0])
                & (Meeting.starts_at < bounds[f][k][1])
                for f, names in by_frequency.items()
            ),
        )

    # Each meeting's period (0 = current) and state, worked out once per meeting in a
    # materialized CTE; the sums then compare two small integers per column.
    period = Case(None, [(in_period(k), k) for k in range(depth)])
    state = Case(None, [(~ended, PLANNED), (quorate, HELD)], SHORT)
    meetings = Meeting.select(
        Meeting.branch,
        Meeting.party_group,
        Meeting.kind,
        Meeting.starts_at,
        period.alias("period"),
        state.alias("state"),
    )
    if tally is not None:
        meetings = meetings.join(tally, JOIN.LEFT_OUTER, on=tally.c.meeting_id == Meeting.id)
    rows = meetings.where(in_window).cte("counted", materialized=_MATERIALIZED_CTE or None)
    columns = [
        fn.SUM(Case(None, [((rows.c.period == k) & (rows.c.state == s), 1)], 0))
        for k in range(depth)
        for s in (HELD, PLANNED, SHORT)
    ]
    ahead = (rows.c.period == 0) & (rows.c.state == PLANNED)
    columns.append(fn.MIN(Case(None, [(ahead, rows.c.starts_at)])))  # the next planned
    query = (
        Select(
            [rows],
            [rows.c.branch_id, rows.c.party_group_id, rows.c.kind, *columns],
        )
        .group_by(rows.c.branch_id, rows.c.party_group_id, rows.c.kind)
        .with_cte(rows)
        .bind(db)
    )
    counts: dict[tuple[int, int | None, str], _Counts] = {}
    # The driver's plain rows: the ids, kind and sums need no conversion, and peewee's
    # per-value conversion of 10,000 rows cost more than the query.
    for branch_id, group_id, kind, *values in db.execute(query):
        first = values[-1]
        counts[(branch_id, group_id, kind)] = _Counts(
            held=[int(values[3 * k] or 0) for k in range(depth)],
            planned=[int(values[3 * k + 1] or 0) for k in range(depth)],
            short=[int(values[3 * k + 2] or 0) for k in range(depth)],
            next_planned=Meeting.starts_at.python_value(first) if first is not None else None,
        )
    return counts


def _merge(parts: Iterable[_Counts], depth: int) -> _Counts:
    """Add up the counts of one kind over a branch's groups (kinds other than "group")."""
    total = _Counts.zero(depth)
    for part in parts:
        total.held = [a + b for a, b in zip(total.held, part.held, strict=True)]
        total.planned = [a + b for a, b in zip(total.planned, part.planned, strict=True)]
        total.short = [a + b for a, b in zip(total.short, part.short, strict=True)]
        if part.next_planned and (
            total.next_planned is None or part.next_planned < total.next_planned
        ):
            total.next_planned = part.next_planned
    return total


def _status(satisfied: bool, missed: bool, days_left: int, planned: int, soon: int) -> str:
    """Pick the status: ok, overdue, due_soon, planned or open (see the module docstring)."""
    if satisfied:
        return "ok"
    if missed or days_left < 0:
        return "overdue"
    if days_left <= soon:
        return "due_soon"
    return "planned" if planned else "open"


def _build(
    branches: list[Any],  # Branch, or rows with its id, name and created_at
    groups: list[Any],  # PartyGroup, or rows with its id, branch_id and name
    at: datetime,
    settings: Settings,
    branch_filter: Expression | None,
    scope: str,
    keep: Container[str] | None = None,
) -> list[Requirement]:
    """Turn branches, groups and the aggregated counts into requirements (no queries here);
    with `keep`, only those of these statuses (the digest wants only the ones due)."""
    tz = ZoneInfo(settings.app.timezone)
    kinds = required_kinds(settings)
    if not kinds or not branches:
        return []
    today = local_day(at, tz)
    depth = _DEPTH[scope]
    periods = {f: _periods_back(today, f, depth) for f in set(kinds.values())}
    counts = _meeting_counts(kinds, periods, at, tz, branch_filter)
    soon = settings.meetings.due_soon_days
    groups_of: dict[int, list[Any]] = {}
    for grp in groups:
        groups_of.setdefault(grp.branch_id, []).append(grp)
    by_branch_kind: dict[tuple[int, str], list[_Counts]] = {}
    for (branch_id, _group_id, kind), value in counts.items():
        by_branch_kind.setdefault((branch_id, kind), []).append(value)

    # Periods reported per frequency (0 = current); the 本季度 view adds the quarter's
    # earlier months for monthly kinds.
    back = {f: [0] for f in periods}
    if scope == "quarter" and "month" in periods:
        quarter = period_of(today, "quarter")
        back["month"] += [k for k in (1, 2) if quarter.contains(periods["month"][k].start)]

    reqs: list[Requirement] = []
    for branch in branches:
        since = local_day(branch.created_at, tz)
        for kind, frequency in kinds.items():
            if kind == "group":
                targets = [
                    (grp.id, grp.name, counts.get((branch.id, grp.id, kind)))
                    for grp in groups_of.get(branch.id, [])
                ]
            else:
                merged = _merge(by_branch_kind.get((branch.id, kind), []), depth)
                targets = [(None, "", merged)]
            for group_id, group_name, value in targets:
                value = value or _Counts.zero(depth)
                for k in back[frequency]:
                    period = periods[frequency][k]
                    if k > 0 and since > period.start:
                        continue  # not in the system for that whole month: not judged
                    previous = periods[frequency][k + 1]
                    missed = since <= previous.start and value.held[k + 1] == 0
                    held, planned = value.held[k], value.planned[k]
                    days_left = (period.end - today).days
                    status = _status(held > 0, missed, days_left, planned, soon)
                    if keep is not None and status not in keep:
                        continue
                    reqs.append(
                        Requirement(
                            branch_id=branch.id,
                            group_id=group_id,
                            kind=kind,
                            kind_label=KINDS[kind],
                            period=period,
                            held=held,
                            planned=planned,
                            satisfied=held > 0,
                            days_left=days_left,
                            status=status,
                            previous_missed=missed,
                            branch_name=branch.name,
                            group_name=group_name,
                            next_planned=value.next_planned if k == 0 else None,
                            held_without_quorum=value.short[k],
                            previous_without_quorum=value.short[k + 1],
                        )
                    )
    return reqs


def branch_calendar(
    branch_id: int, at: datetime, settings: Settings, *, scope: str = "month"
) -> list[Requirement]:
    """Return one branch's requirements for the periods holding `at` (3 queries).

    With scope "quarter", monthly kinds also get a requirement for each earlier month of the
    current quarter (days_left < 0), so that render_calendar can summarize the quarter.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected month|quarter")
    branch = (
        Branch.select(Branch.id, Branch.name, Branch.created_at)
        .where(Branch.id == branch_id)
        .first()
    )
    if branch is None:
        raise DomainError(f"没有找到编号为 {branch_id} 的支部。")
    groups = list(
        PartyGroup.select(PartyGroup.id, PartyGroup.branch, PartyGroup.name)
        .where(PartyGroup.branch == branch_id)
        .order_by(PartyGroup.id)
    )
    return _build([branch], groups, at, settings, Meeting.branch == branch_id, scope)


def all_branches_calendar(
    at: datetime, settings: Settings, committee_id: int | None = None
) -> list[Requirement]:
    """Return every branch's (or one committee's) requirements for the current periods
    (3 queries)."""
    return _all_branches(at, settings, committee_id, None)


def all_branches_due(
    at: datetime, settings: Settings, committee_id: int | None = None
) -> list[Requirement]:
    """Return every branch's unmet requirements that are due soon or overdue (3 queries)."""
    return _all_branches(at, settings, committee_id, DUE)


def _all_branches(
    at: datetime, settings: Settings, committee_id: int | None, keep: Container[str] | None
) -> list[Requirement]:
    # Plain rows with the attributes _build reads: model objects for 2,000 branches and
    # 6,000 groups cost more than the rest of the read.
    branches = (
        Branch.select(Branch.id, Branch.name, Branch.created_at).order_by(Branch.id).namedtuples()
    )
    groups = (
        PartyGroup.select(PartyGroup.id, PartyGroup.branch.alias("branch_id"), PartyGroup.name)
        .join(Branch)
        .order_by(PartyGroup.id)
        .namedtuples()
    )
    branch_filter = None
    if committee_id is not None:
        branches = branches.where(Branch.committee == committee_id)
        groups = groups.where(Branch.committee == committee_id)
        ids = Branch.select(Branch.id).where(Branch.committee == committee_id)
        branch_filter = Meeting.branch.in_(ids)
    return _build(list(branches), list(groups), at, settings, branch_filter, "month", keep)


# ---- text for the secretary -----------------------------------------------------------------

_MARKS = {"ok": "✅", "overdue": "❗", "due_soon": "⏰", "planned": "🗓", "open": "⬜"}
_ORDER = {"month": 0, "quarter": 1, "year": 2}


def _who(req: Requirement) -> str:
    return f"{req.kind_label}（{req.group_name}）" if req.group_name else req.kind_label


def _left(days_left: int) -> str:
    return "今天截止" if days_left == 0 else f"还剩 {days_left} 天"


def without_quorum_text(count: int) -> str:
    """Say that `count` meetings ended without a quorum and so do not count."""
    return f"{count} 次召开但未达法定人数（不计入）"


def quorum_hint(req: Requirement) -> str:
    """What a secretary can do about a meeting held without quorum."""
    who = "支委" if req.kind == "committee" else "有表决权的正式党员"
    return (
        f"须有过半{who}出席，会议才算召开；如有人到会未签到，"
        "请发送“补签 姓名 编号”补录，否则请重新召开。"
    )


def _line(req: Requirement, tz: ZoneInfo) -> list[str]:
    """Render one current requirement, and a note when its previous period was missed."""
    parts = [f"已召开 {req.held} 次"]
    if req.held_without_quorum:
        parts.append("另有 " + without_quorum_text(req.held_without_quorum))
    if req.planned:
        when = f"（最近 {day_hm(req.next_planned, tz)}）" if req.next_planned else ""
        parts.append(f"已安排 {req.planned} 次{when}")
    parts.append("已完成 ✓" if req.satisfied else _left(req.days_left))
    if not req.satisfied and not req.planned:
        parts.append("尚未安排")
    lines = [f"{_MARKS[req.status]} {_who(req)}：" + "，".join(parts)]
    if req.held_without_quorum and not req.satisfied:
        lines.append("    " + quorum_hint(req))
    if req.previous_missed:
        previous = req.period.previous().label
        if req.previous_without_quorum:
            lines.append(f"    上期未开：{previous}的{req.kind_label}未达法定人数")
        else:
            lines.append(f"    上期未开：{previous}没有召开{req.kind_label}")
    return lines


def _section(reqs: list[Requirement], tz: ZoneInfo) -> list[str]:
    """Render current requirements grouped under their period labels, month before year."""
    lines: list[str] = []
    labels: list[Period] = []
    for req in sorted(reqs, key=lambda r: _ORDER[r.period.kind]):
        if req.period not in labels:
            labels.append(req.period)
    for period in labels:
        lines.append(f"【{period.label}】")
        for req in reqs:
            if req.period == period:
                lines.extend(_line(req, tz))
    return lines


def _month_cell(month: date, req: Requirement | None) -> str:
    name = f"{month.month}月"
    if req is None:
        return f"{name} —"  # before the branch used the system: not judged
    if req.satisfied:
        return f"{name} ✓{req.held}次"
    if req.days_left < 0:
        return f"{name} ✗{'未达法定人数' if req.held_without_quorum else '未开'}"
    short = f"（未达法定人数{req.held_without_quorum}次）" if req.held_without_quorum else ""
    planned = f"（已安排{req.planned}次）" if req.planned else ""
    return f"{name} {_left(req.days_left)}{short}{planned}"


def _quarter_months(reqs: list[Requirement], today: date) -> list[str]:
    """Summarize the monthly kinds across the months of the current quarter, one line each."""
    quarter = period_of(today, "quarter")
    months = [date(quarter.start.year, quarter.start.month + i, 1) for i in range(3)]
    rows: dict[tuple[str, int | None], dict[date, Requirement]] = {}
    names: dict[tuple[str, int | None], str] = {}
    for req in reqs:
        key = (req.kind, req.group_id)
        rows.setdefault(key, {})[req.period.start] = req
        names[key] = _who(req)
    lines = [f"【{quarter.label}各月（按月要求的会议）】"]
    for key, by_month in rows.items():
        cells = []
        for month in months:
            if month > today:
                cells.append(f"{month.month}月 未到")
            else:
                cells.append(_month_cell(month, by_month.get(month)))
        lines.append(f"{names[key]}：" + " · ".join(cells))
    return lines


def render_calendar(branch_name: str, reqs: list[Requirement], scope: str, tz: ZoneInfo) -> str:
    """Render 本月 or 本季度 compliance for one branch as the text the secretary reads.

    本月 ("month"): every current requirement, monthly ones first, then the quarterly and
    yearly ones (a quarter or year can end this month, and they are few).
    本季度 ("quarter"): the quarterly and yearly requirements, then one line per monthly kind
    (per group for 党小组会) summarizing the quarter's months; pass the output of
    branch_calendar(..., scope="quarter") so the earlier months are known.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected month|quarter")
    current = [r for r in reqs if r.days_left >= 0]
    if not current:
        return f"{branch_name}：目前没有按期必须召开的会议（各类会议的频次均设为不要求）。"
    today = current[0].period.end - timedelta(days=current[0].days_left)
    title = "本月" if scope == "month" else "本季度"
    lines = [f"{branch_name}{title}组织生活（截至{today.month}月{today.day}日）"]
    if scope == "month":
        lines += _section(current, tz)
    else:
        lines += _section([r for r in current if r.period.kind != "month"], tz)
        monthly = [r for r in reqs if r.period.kind == "month"]
        if monthly:
            lines += _quarter_months(monthly, today)
    due = [r for r in current if r.status in ("overdue", "due_soon")]
    if due:
        lines.append(f"请抓紧落实：{'、'.join(dict.fromkeys(_who(r) for r in due))}。")
    elif all(r.satisfied for r in current):
        lines.append("本期要求的会议均已召开。")
    return "\n".join(lines)


def manager_calendar(actor: Member, now: datetime, settings: Settings, *, scope: str) -> str:
    """本月 or 本季度 for the actor's branch, as the text its manager reads."""
    branch = Branch.get_by_id(actor.branch_id)
    require_manager(actor, branch)
    reqs = branch_calendar(branch.id, now, settings, scope=scope)
    return render_calendar(branch.name, reqs, scope, ZoneInfo(settings.app.timezone))
