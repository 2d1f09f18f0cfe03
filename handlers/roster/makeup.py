"""A branch's make-up for the committee: its party members by age band (from 出生日期; 未知
without one) and how many were admitted (入党日期) this year. Counts per branch only, in one
grouped query whatever the number of branches."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from peewee import Case, Expression, fn

from core.config import Settings
from models.org import PARTY_MEMBER_STATUSES, Branch, Member


@dataclass(frozen=True)
class MakeUp:
    bands: tuple[int, ...]  # party members per age band, youngest first (band_labels' order)
    unknown: int  # without a birth date
    admitted: int  # joined_on within the year

    @property
    def members(self) -> int:
        return sum(self.bands) + self.unknown


def band_labels(settings: Settings) -> list[str]:
    """The bands' names (roster.age_bands): 35岁以下, 35—45岁, 46—55岁, 56—60岁, 61岁及以上."""
    starts = list(settings.roster.age_bands)
    labels = [f"{starts[0]}岁以下"]
    labels += [f"{a}—{b - 1}岁" for a, b in zip(starts, starts[1:], strict=False)]
    return [*labels, f"{starts[-1]}岁及以上"]


def _years_before(day: date, years: int) -> date:
    """The day ``years`` years before ``day`` (29 February falls back to the 28th)."""
    year = day.year - years
    return day.replace(year=year, day=min(day.day, calendar.monthrange(year, day.month)[1]))


def empty_makeup(settings: Settings) -> MakeUp:
    return MakeUp((0,) * (len(settings.roster.age_bands) + 1), 0, 0)


def branch_makeup(members: Expression, today: date, settings: Settings) -> dict[int, MakeUp]:
    """{branch id: its party members' make-up on ``today``} for the members matching
    ``members``. A member is N or older on ``today`` when born on or before the day N years
    before it."""
    # Born after cutoffs[i]: younger than the i-th age; the bands lie between the cutoffs.
    cutoffs = [_years_before(today, age) for age in settings.roster.age_bands]
    born = Member.birth_date
    bands = []
    for index in range(len(cutoffs) + 1):
        younger = born > cutoffs[index] if index < len(cutoffs) else None
        older = born <= cutoffs[index - 1] if index else None
        cond = younger if older is None else older if younger is None else (younger & older)
        bands.append(fn.SUM(Case(None, [(cond, 1)], 0)))
    unknown = fn.SUM(Case(None, [(born.is_null(), 1)], 0))
    first = date(today.year, 1, 1)
    joined = (Member.joined_on >= first) & (Member.joined_on <= date(today.year, 12, 31))
    admitted = fn.SUM(Case(None, [(joined, 1)], 0))
    query = (
        Member.select(Member.branch, unknown, admitted, *bands)
        .where(members, Member.status.in_(PARTY_MEMBER_STATUSES))
        .group_by(Member.branch)
        .tuples()
    )
    return {
        row[0]: MakeUp(tuple(int(v or 0) for v in row[3:]), int(row[1] or 0), int(row[2] or 0))
        for row in query
    }


def committee_makeup(committee_id: int, today: date, settings: Settings) -> dict[int, MakeUp]:
    ours = Branch.select(Branch.id).where(Branch.committee == committee_id)
    return branch_makeup(Member.branch.in_(ours), today, settings)
