"""What the console's pages show, each as one use case: access checked, figures gathered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from handlers import snapshots
from handlers.branches import branch_acted_for
from handlers.console.access import CONSOLE_ROLES
from handlers.development import BranchCounts as DevelopmentCounts
from handlers.development import committee_counts as development_counts
from handlers.organization import BranchHealth, TermState, branches_health, term_state
from handlers.overview import Overview, branch_overview
from handlers.rectification import BranchCounts, committee_counts
from handlers.reminders import StudyRate, study_participation
from handlers.roster.members import MemberPage, list_members
from handlers.snapshots import Comparison
from models.org import BRANCH_MANAGERS, Branch, Member, acts_for

TREND_WEEKS = 8


@dataclass(frozen=True)
class WeekRate:
    start: date  # Monday
    end: date  # Sunday, or today for this week
    rate: StudyRate


@dataclass(frozen=True)
class BranchHome:
    overview: Overview
    trend: list[WeekRate]  # oldest first, this week last
    term: TermState | None = None  # the branch committee's term (换届)
    may_record_term: bool = False  # the viewer may record an election


def study_trend(branch_id: int, today: date, weeks: int = TREND_WEEKS) -> list[WeekRate]:
    """The branch's study participation per week for the last ``weeks`` weeks: rates only."""
    monday = today - timedelta(days=today.weekday())
    out = []
    for n in range(weeks - 1, -1, -1):
        start = monday - timedelta(weeks=n)
        end = min(start + timedelta(days=6), today)
        rates = study_participation(start, end, Member.branch == branch_id)
        out.append(WeekRate(start, end, rates.get(branch_id) or StudyRate(0, 0, 0)))
    return out


def branch_home(
    actor: Member, branch_id: int | None, *, now: datetime, settings: Settings
) -> BranchHome:
    """A branch's home page: this month's figures and alerts, and the study trend."""
    branch = branch_acted_for(actor, branch_id, CONSOLE_ROLES)
    view = branch_overview(branch, now, settings, viewer=actor)
    return BranchHome(
        view,
        study_trend(branch.id, view.today),
        term_state(branch.id, view.today, settings),
        acts_for(actor, branch, BRANCH_MANAGERS),
    )


@dataclass(frozen=True)
class MembersView:
    branch: Branch
    page: MemberPage


def branch_members(
    actor: Member,
    branch_id: int | None,
    *,
    status: str | None,
    bound: bool | None,
    q: str,
    limit: int,
    offset: int,
) -> MembersView:
    """The branch's members for its managers (the API's rule), filtered and paged."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    page = list_members(
        branch.id, status=status, bound=bound, q=q, group_id=None, limit=limit, offset=offset
    )
    return MembersView(branch, page)


@dataclass(frozen=True)
class CommitteeView:
    comparison: Comparison
    rectification: dict[int, BranchCounts]  # per branch id: counts, never people
    development: dict[int, DevelopmentCounts]  # per branch id: per stage and overdue, no names
    # Per branch: the term, the party-affairs staffer, open lost-contact cases (counts).
    organization: list[BranchHealth] = field(default_factory=list)


def committee_comparison(
    actor: Member, *, now: datetime, settings: Settings, refresh: bool = False
) -> CommitteeView:
    """Every branch of the committee side by side (committee admins): branches, never people.

    The figures are the stored snapshots (handlers.snapshots), computed again when stale or
    when ``refresh`` is asked for; the rectification counts and the organization figures (term,
    party-affairs staffer, open lost-contact cases) are read live, in a few queries.
    """
    comparison = snapshots.committee_comparison(actor, now=now, settings=settings, refresh=refresh)
    today = local_day(now, ZoneInfo(settings.app.timezone))
    committee_id = comparison.committee.id
    return CommitteeView(
        comparison,
        committee_counts(committee_id, today),
        development_counts(committee_id, today, settings),
        branches_health(now, settings, committee_id),
    )
