"""The assessment as people see it: a committee's branches ranked, one branch's breakdown and
trend, the operator's table, the backfill and the monthly job.

Who sees what: a committee admin every branch of the committee, ranked, and any one's detail;
a branch's managers (secretary, deputy secretary, organizer) their own branch's score,
breakdown and trend, and its place among the committee's branches ("第3名/共12个") without
any other branch's name or score. Only complete months are assessed: the current month is not
over, so its figures would judge what is still due as missed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from core.clock import local_day
from core.config import Settings
from handlers.assessment.scores import (
    Score,
    place,
    ranked,
    score_branch,
    score_of,
    shares_of,
    weights,
)
from handlers.assessment.store import (
    applicable,
    branch_months,
    branch_rows,
    committee_month,
    judge_and_store,
    unjudged,
    zone,
)
from handlers.branches import branch_acted_for
from handlers.dues import add_months
from handlers.errors import Invalid, NotFound
from handlers.roster.access import require_role
from handlers.study.plans import plan_scope
from models.org import BRANCH_MANAGERS, Committee, Member

# The most months one backfill judges (ten years).
MAX_BACKFILL_MONTHS = 120


@dataclass(frozen=True)
class CommitteeAssessment:
    """A committee's branches for a month, best first (``rows``), and the weights used."""

    committee_id: int
    committee_name: str
    month: date
    weights: dict[str, int]
    rows: list[Score]

    @property
    def ranked_count(self) -> int:
        return sum(1 for s in self.rows if s.rank is not None)


@dataclass(frozen=True)
class BranchAssessment:
    """One branch's month (with its rank among ``ranked_count`` branches) and its trend, the
    last ``trend_months`` months oldest first."""

    score: Score
    ranked_count: int
    trend: list[Score]


def last_complete_month(now: datetime, settings: Settings) -> date:
    return add_months(local_day(now, zone(settings)).replace(day=1), -1)


def assessed_month(month: date | None, now: datetime, settings: Settings) -> date:
    """The month asked for (default: the last complete one), refused unless it is over."""
    last = last_complete_month(now, settings)
    if month is None:
        return last
    month = month.replace(day=1)
    earliest = settings.api.earliest_year
    if month.year < earliest:
        raise Invalid(f"月份应在 {earliest} 年或以后。", errcode="invalid_month")
    if month > last:
        raise Invalid(
            f"{month.year}年{month.month}月尚未结束，星级评定只评已结束的月份；"
            f"请选择 {last.year}年{last.month}月 或更早的月份。",
            errcode="invalid_month",
        )
    return month


def committee_scores(
    committee_id: int, month: date, *, settings: Settings, now: datetime
) -> CommitteeAssessment:
    """A committee's complete month, ranked, for a report its reader may already see (the
    caller checked who asks)."""
    return _committee(committee_id, month, settings, now)


def _committee(
    committee_id: int, month: date, settings: Settings, now: datetime
) -> CommitteeAssessment:
    committee = Committee.get_or_none(Committee.id == committee_id)
    if committee is None:
        raise NotFound("没有这个党委。")
    rows = branch_rows(committee_id=committee_id)
    figures = committee_month(committee_id, month, rows, settings, now)
    scores = [score_branch(r.id, r.name, month, figures.get(r.id), settings) for r in rows]
    return CommitteeAssessment(
        committee.id, committee.name, month, weights(settings), ranked(scores)
    )


def committee_assessment(
    actor: Member, month: date | None, *, now: datetime, settings: Settings
) -> CommitteeAssessment:
    """The committee admin's branches for a complete month, ranked by score."""
    require_role(actor, "committee_admin")
    month = assessed_month(month, now, settings)
    return _committee(actor.branch.committee_id, month, settings, now)


def branch_assessment(
    actor: Member,
    branch_id: int | None,
    month: date | None,
    *,
    now: datetime,
    settings: Settings,
) -> BranchAssessment:
    """A branch's score, breakdown, place and trend (its managers; a committee admin)."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    month = assessed_month(month, now, settings)
    return _branch(branch.id, month, settings, now)


def _branch(branch_id: int, month: date, settings: Settings, now: datetime) -> BranchAssessment:
    """The branch's months from its own stored figures; its place from the committee's scores
    alone (a lean read of the applicable rates, no breakdowns), after judging any branch of the
    committee whose month is not stored yet."""
    (row,) = branch_rows(branch_id=branch_id)
    count = settings.assessment.trend_months
    months = [add_months(month, -k) for k in range(count - 1, -1, -1)]
    found = branch_months(row, months, settings, now)
    trend = [score_branch(row.id, row.name, m, found[m], settings) for m in months]
    if unjudged(row.committee_id, month, settings):
        committee_month(
            row.committee_id, month, branch_rows(committee_id=row.committee_id), settings, now
        )
    configured = weights(settings)
    counted = [name for name, weight in configured.items() if weight > 0]
    scores = []
    for rates in applicable(row.committee_id, month, counted).values():
        scores.append(score_of(shares_of(configured, rates), rates))
    mine = trend[-1]
    rank = place(mine.score, scores)
    return BranchAssessment(replace(mine, rank=rank), len(scores), trend)


def assessment_named(
    month: date | None,
    *,
    committee_name: str | None,
    branch_name: str | None,
    now: datetime,
    settings: Settings,
) -> CommitteeAssessment | BranchAssessment:
    """The operator's view by name: a committee's table, or one branch's detail."""
    month = assessed_month(month, now, settings)
    scope = plan_scope(committee_name=committee_name, branch_name=branch_name)
    if scope.branch_id is not None:
        return _branch(scope.branch_id, month, settings, now)
    assert scope.committee_id is not None
    return _committee(scope.committee_id, month, settings, now)


def backfill(
    first: date,
    last: date,
    *,
    committee_name: str | None,
    now: datetime,
    settings: Settings,
) -> tuple[str, list[date], int]:
    """Judge the complete months from ``first`` to ``last`` again for a committee (or the
    only one) and store them; returns its name, the months and the branch-months stored."""
    last = assessed_month(last, now, settings)
    first = first.replace(day=1)
    if first > last:
        raise Invalid("起始月份不能晚于结束月份。", errcode="invalid_month")
    scope = plan_scope(committee_name=committee_name, branch_name=None)
    assert scope.committee_id is not None
    months: list[date] = []
    month = first
    while month <= last:
        if len(months) == MAX_BACKFILL_MONTHS:
            raise Invalid(
                f"一次最多重新评定 {MAX_BACKFILL_MONTHS} 个月，请缩小月份范围。",
                errcode="invalid_month",
            )
        months.append(month)
        month = add_months(month, 1)
    stored = judge_and_store(scope.committee_id, months, settings, now)
    return scope.name, months, stored


def store_last_month(now: datetime, settings: Settings) -> int:
    """The job (the 1st): judge the month just ended for every committee and store it."""
    month = last_complete_month(now, settings)
    total = 0
    for (committee_id,) in Committee.select(Committee.id).order_by(Committee.id).tuples():
        total += judge_and_store(committee_id, [month], settings, now)
    return total
