"""Requirements: which required meeting each branch (or party group) held, planned or owes."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Expression

from core.clock import local_day
from core.config import Settings
from handlers.calendar.counts import Counts, meeting_counts, merge
from handlers.calendar.periods import FREQUENCIES, Period, period_of, periods_back
from handlers.errors import DomainError
from models.meetings import KINDS, Meeting
from models.org import Branch, PartyGroup

# Statuses of a requirement the secretary must act on (the digest lists them).
DUE = ("overdue", "due_soon")
SCOPES = ("month", "quarter")
# How many periods back (0 = current) the aggregated query counts for each view.
_DEPTH = {"month": 2, "quarter": 4}


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
    periods = {f: periods_back(today, f, depth) for f in set(kinds.values())}
    counts = meeting_counts(kinds, periods, at, tz, branch_filter)
    soon = settings.meetings.due_soon_days
    groups_of: dict[int, list[Any]] = {}
    for grp in groups:
        groups_of.setdefault(grp.branch_id, []).append(grp)
    by_branch_kind: dict[tuple[int, str], list[Counts]] = {}
    for (branch_id, _group_id, kind), value in counts.items():
        by_branch_kind.setdefault((branch_id, kind), []).append(value)

    # Periods reported per frequency (0 = current); the 本季度 view adds the quarter's
    # earlier months for monthly kinds.
    back = {f: [0] for f in periods}
    if scope == "quarter" and "month" in periods:
        quarter = period_of(today, "quarter")
        back["month"] += [k for k in (1, 2) if quarter.contains(periods["month"][k].start)]

    frame = _Frame(today, periods, back, depth, soon, keep)
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
                merged = merge(by_branch_kind.get((branch.id, kind), []), depth)
                targets = [(None, "", merged)]
            for group_id, group_name, value in targets:
                target = _Target(branch, since, kind, frequency, group_id, group_name)
                reqs.extend(_judge(frame, target, value or Counts.zero(depth)))
    return reqs


@dataclass(frozen=True)
class _Frame:
    """What judging any target needs: today, the periods and which of them are reported."""

    today: date
    periods: dict[str, list[Period]]  # per frequency, 0 = current
    back: dict[str, list[int]]  # per frequency, the periods reported
    depth: int
    soon: int  # due_soon_days
    keep: Container[str] | None


@dataclass(frozen=True)
class _Target:
    """One required kind for one branch, or for one of its party groups."""

    branch: Any  # Branch, or a row with its id, name and created_at
    since: date  # the branch's first local day in the system
    kind: str
    frequency: str
    group_id: int | None
    group_name: str


def _judge(frame: _Frame, target: _Target, value: Counts) -> list[Requirement]:
    """The target's requirement for each reported period (only `keep`'s statuses, if set)."""
    reqs = []
    periods = frame.periods[target.frequency]
    for k in frame.back[target.frequency]:
        period = periods[k]
        if k > 0 and target.since > period.start:
            continue  # not in the system for that whole month: not judged
        previous = periods[k + 1]
        missed = target.since <= previous.start and value.held[k + 1] == 0
        held, planned = value.held[k], value.planned[k]
        days_left = (period.end - frame.today).days
        status = _status(held > 0, missed, days_left, planned, frame.soon)
        if frame.keep is not None and status not in frame.keep:
            continue
        reqs.append(
            Requirement(
                branch_id=target.branch.id,
                group_id=target.group_id,
                kind=target.kind,
                kind_label=KINDS[target.kind],
                period=period,
                held=held,
                planned=planned,
                satisfied=held > 0,
                days_left=days_left,
                status=status,
                previous_missed=missed,
                branch_name=target.branch.name,
                group_name=target.group_name,
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
