"""A branch this month at a glance, and every branch of a committee with headline figures.

Each figure comes from its own feature (study rates, the meeting calendar, dues, the
secretary's alerts) for all branches at once: a constant number of queries, whatever the
number of branches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from handlers.calendar import Requirement, all_branches_calendar, branch_calendar
from handlers.development import manages as manages_development
from handlers.dues import BranchMonthSummary, branch_month_summary
from handlers.reminders import BranchAlerts, StudyRate, secretary_alerts, study_participation
from handlers.roster.access import require_role
from handlers.roster.makeup import MakeUp, band_labels, committee_makeup, empty_makeup
from handlers.training import BranchTraining, committee_training
from handlers.volunteer import BranchService, month_service
from models.org import Branch, Member


@dataclass(frozen=True)
class BranchFigures:
    """One branch's figures this month (``alerts`` empty when there is nothing to act on)."""

    branch: Branch
    study: StudyRate
    meetings: list[Requirement]
    dues: BranchMonthSummary | None
    alerts: BranchAlerts


@dataclass(frozen=True)
class Overview:
    today: date
    month: date  # its first day
    figures: BranchFigures
    # Whether the viewer may see who is overdue in development (the branch's own managers);
    # others (a committee admin) get the count only (handlers.development: counts, no names).
    development_names: bool = True


@dataclass(frozen=True)
class People:
    """A branch's people in figures, never names: 学时 together, age structure and admissions,
    and this month's confirmed volunteer service."""

    training: BranchTraining
    makeup: MakeUp
    volunteer: BranchService


@dataclass(frozen=True)
class CommitteePage:
    """One page of the committee's branches, by id, and how many there are."""

    today: date
    month: date
    branches: list[BranchFigures]
    total: int
    people: dict[int, People]  # by branch id, the page's branches
    band_labels: list[str]
    required_hours: int


def committee_people(
    committee_id: int,
    branch_ids: list[int],
    now: datetime,
    settings: Settings,
    *,
    training: dict[int, BranchTraining] | None = None,
) -> dict[int, People]:
    """{branch id: People} for branches of the committee: three grouped queries, two when the
    学时 are given (``training``, as stored in the branch snapshots)."""
    today = _today(now, settings)
    if training is None:
        training = committee_training(committee_id, now, settings)
    makeup = committee_makeup(committee_id, today, settings)
    service = month_service(today.replace(day=1), committee_id=committee_id)
    return {
        i: People(
            training.get(i, BranchTraining()),
            makeup.get(i, empty_makeup(settings)),
            service.get(i, BranchService()),
        )
        for i in branch_ids
    }


def _today(now: datetime, settings: Settings) -> date:
    return local_day(now, ZoneInfo(settings.app.timezone))


def branch_overview(
    branch: Branch, now: datetime, settings: Settings, *, viewer: Member | None = None
) -> Overview:
    """This month of one branch: study rate, required meetings, dues, and the digest's alerts
    (for ``viewer``: the people overdue in development only when they manage the branch)."""
    today = _today(now, settings)
    month = today.replace(day=1)
    rates = study_participation(month, today, Member.branch == branch.id)
    summaries = branch_month_summary(month, settings, branch_id=branch.id)
    alerts = secretary_alerts(now, settings, branch_id=branch.id)
    figures = BranchFigures(
        branch,
        rates.get(branch.id) or StudyRate(0, 0, 0),
        branch_calendar(branch.id, now, settings),
        summaries[0] if summaries else None,
        alerts.get(branch.id) or BranchAlerts(branch.id),
    )
    names = viewer is None or manages_development(viewer, branch.id)
    return Overview(today, month, figures, names)


def committee_figures(
    committee_id: int, now: datetime, settings: Settings
) -> tuple[date, list[BranchFigures]]:
    """This month's figures for every branch of a committee, by branch id, in a constant
    number of queries; and the local day they are for."""
    today = _today(now, settings)
    month = today.replace(day=1)
    ours = Branch.select(Branch.id).where(Branch.committee == committee_id)
    rates = study_participation(month, today, Member.branch.in_(ours))
    reqs: dict[int, list[Requirement]] = {}
    for req in all_branches_calendar(now, settings, committee_id):
        reqs.setdefault(req.branch_id, []).append(req)
    dues = {
        s.branch_id: s for s in branch_month_summary(month, settings, committee_id=committee_id)
    }
    alerts = secretary_alerts(now, settings, committee_id=committee_id)
    select = (
        Branch.select(Branch.id, Branch.name)
        .where(Branch.committee == committee_id)
        .order_by(Branch.id)
    )
    return today, [
        BranchFigures(
            b,
            rates.get(b.id) or StudyRate(0, 0, 0),
            reqs.get(b.id, []),
            dues.get(b.id),
            alerts.get(b.id) or BranchAlerts(b.id),
        )
        for b in select
    ]


def committee_branches(
    actor: Member, now: datetime, settings: Settings, *, limit: int, offset: int
) -> CommitteePage:
    """Every branch of the committee admin's committee with this month's figures, paged here
    (``limit``, ``offset``) as the figures are computed for all branches at once."""
    require_role(actor, "committee_admin")
    committee_id = actor.branch.committee_id
    today, figures = committee_figures(committee_id, now, settings)
    shown = figures[offset : offset + limit]
    people = committee_people(committee_id, [f.branch.id for f in shown], now, settings)
    required = settings.training.required_hours_per_year
    return CommitteePage(
        today, today.replace(day=1), shown, len(figures), people, band_labels(settings), required
    )
