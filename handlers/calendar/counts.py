"""The one aggregated query: held, held-without-quorum and planned meetings per period."""

from __future__ import annotations

import operator
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from zoneinfo import ZoneInfo

from peewee import JOIN, Case, Expression, Select, fn

from handlers.calendar.periods import Period, utc_bounds
from handlers.meetings import quorum_tallies
from models.base import db
from models.meetings import QUORUM_KINDS, Meeting


@dataclass
class Counts:
    """Held, planned and held-without-quorum meetings of one (branch, group, kind) per period
    (0 = current), and the start of the next planned one."""

    held: list[int]
    planned: list[int]
    short: list[int]  # held without quorum
    next_planned: datetime | None = None

    @classmethod
    def zero(cls, depth: int) -> Counts:
        return cls([0] * depth, [0] * depth, [0] * depth)


# A meeting's state in meeting_counts.
HELD, PLANNED, SHORT = 1, 2, 3  # ended (with quorum where one is needed), ahead, without quorum
# WITH … AS MATERIALIZED: PostgreSQL 12+, SQLite 3.35+ (older SQLite: a plain CTE).
MATERIALIZED_CTE = sqlite3.sqlite_version_info >= (3, 35, 0)


def meeting_counts(
    kinds: dict[str, str],
    periods: dict[str, list[Period]],
    at: datetime,
    tz: ZoneInfo,
    branch_filter: Expression | None,
) -> dict[tuple[int, int | None, str], Counts]:
    """Count held, held-without-quorum and planned meetings per (branch, group, kind) and
    period, in one query (the quorum tallies are a grouped subquery joined to it)."""
    depth = len(next(iter(periods.values())))
    by_frequency: dict[str, list[str]] = {}
    for kind, frequency in kinds.items():
        by_frequency.setdefault(frequency, []).append(kind)
    bounds = {f: [utc_bounds(p, tz) for p in periods[f]] for f in by_frequency}
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
    quorate, tally = _quorate(kinds, bounds, in_window & ended)
    # Each meeting's period (0 = current) and state, worked out once per meeting in a
    # materialized CTE; the sums then compare two small integers per column.
    period = Case(None, [(_in_period(by_frequency, bounds, k), k) for k in range(depth)])
    state = Case(None, [(~ended, PLANNED), (quorate, HELD)], SHORT)
    return _read_counts(_counts_query(period, state, tally, in_window, depth), depth)


_Bounds = dict[str, list[tuple[datetime, datetime]]]  # per frequency, [start, end) per period


def _quorate(
    kinds: dict[str, str], bounds: _Bounds, ended_in_window: Expression
) -> tuple[Expression, Select | None]:
    """Has quorum, or needs none (quorum_met in SQL: present * 2 > voters), and the tallies
    subquery the condition reads (None when no counted kind needs a quorum)."""
    quorate = Meeting.kind.not_in(QUORUM_KINDS)
    judged = [kind for kind in QUORUM_KINDS if kind in kinds]
    if not judged:
        return quorate, None
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
    tally = quorum_tallies(ended_in_window & spans).alias("tally")
    present, voters = fn.COALESCE(tally.c.present, 0), fn.COALESCE(tally.c.voters, 0)
    return quorate | (present * 2 > voters), tally


def _in_period(by_frequency: dict[str, list[str]], bounds: _Bounds, k: int) -> Expression:
    """The meeting falls in period k (0 = current) of its kind's frequency."""
    return reduce(
        operator.or_,
        (
            Meeting.kind.in_(names)
            & (Meeting.starts_at >= bounds[f][k][0])
            & (Meeting.starts_at < bounds[f][k][1])
            for f, names in by_frequency.items()
        ),
    )


def _counts_query(
    period: Case, state: Case, tally: Select | None, in_window: Expression, depth: int
) -> Select:
    """Per (branch, group, kind): held, planned and short per period, then the next planned."""
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
    rows = meetings.where(in_window).cte("counted", materialized=MATERIALIZED_CTE or None)
    columns = [
        fn.SUM(Case(None, [((rows.c.period == k) & (rows.c.state == s), 1)], 0))
        for k in range(depth)
        for s in (HELD, PLANNED, SHORT)
    ]
    ahead = (rows.c.period == 0) & (rows.c.state == PLANNED)
    columns.append(fn.MIN(Case(None, [(ahead, rows.c.starts_at)])))  # the next planned
    return (
        Select(
            [rows],
            [rows.c.branch_id, rows.c.party_group_id, rows.c.kind, *columns],
        )
        .group_by(rows.c.branch_id, rows.c.party_group_id, rows.c.kind)
        .with_cte(rows)
        .bind(db)
    )


def _read_counts(query: Select, depth: int) -> dict[tuple[int, int | None, str], Counts]:
    """Run the counting query and read its rows into Counts by (branch, group, kind)."""
    counts: dict[tuple[int, int | None, str], Counts] = {}
    # The driver's plain rows: the ids, kind and sums need no conversion, and peewee's
    # per-value conversion of 10,000 rows cost more than the query.
    for branch_id, group_id, kind, *values in db.execute(query):
        first = values[-1]
        counts[(branch_id, group_id, kind)] = Counts(
            held=[int(values[3 * k] or 0) for k in range(depth)],
            planned=[int(values[3 * k + 1] or 0) for k in range(depth)],
            short=[int(values[3 * k + 2] or 0) for k in range(depth)],
            next_planned=Meeting.starts_at.python_value(first) if first is not None else None,
        )
    return counts


def merge(parts: Iterable[Counts], depth: int) -> Counts:
    """Add up the counts of one kind over a branch's groups (kinds other than "group")."""
    total = Counts.zero(depth)
    for part in parts:
        total.held = [a + b for a, b in zip(total.held, part.held, strict=True)]
        total.planned = [a + b for a, b in zip(total.planned, part.planned, strict=True)]
        total.short = [a + b for a, b in zip(total.short, part.short, strict=True)]
        if part.next_planned and (
            total.next_planned is None or part.next_planned < total.next_planned
        ):
            total.next_planned = part.next_planned
    return total
