"""Branch snapshots: each branch's headline figures, stored for the committee comparison.

The figures are the API's committee list's (handlers.overview.committee_figures: study rate,
meetings against required, dues this month, the digest's count) and each branch's 学时 of the
year (handlers.training.committee_training, read by the committee's people table), computed
for a whole committee at once and written in one transaction. The ``branch_snapshots`` job
refreshes every committee; snapshots older than ``console.snapshot_max_age_minutes`` (or
missing a branch, or from before 学时 were stored) are refreshed before they are shown; a
committee admin may refresh at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import fn

from core.config import Settings
from handlers.calendar import DUE
from handlers.overview import BranchFigures, committee_figures
from handlers.roster.access import require_role
from handlers.training import BranchTraining, committee_training
from models.base import write_tx
from models.org import Branch, Committee, Member
from models.snapshots import BranchSnapshot

log = logging.getLogger(__name__)


def _row(
    figures: BranchFigures, training: BranchTraining, committee_id: int, today: date, now: datetime
) -> dict:
    reqs = figures.meetings
    dues = figures.dues
    return {
        "branch": figures.branch.id,
        "committee": committee_id,
        "computed_at": now,
        "as_of": today,
        "month": today.replace(day=1),
        "study_members": figures.study.members,
        "study_participants": figures.study.participants,
        "study_checkins": figures.study.checkins,
        "meetings_required": len(reqs),
        "meetings_satisfied": sum(r.satisfied for r in reqs),
        "meetings_held": sum(r.held for r in reqs),
        "meetings_due": sum(r.status in DUE for r in reqs),
        "meetings_overdue": sum(r.status == "overdue" for r in reqs),
        "dues_expected_fen": dues.expected_fen if dues else None,
        "dues_collected_fen": dues.collected_fen if dues else None,
        "alert_count": figures.alerts.count,
        "last_active_at": None,
        "training_year": today.year,
        "training_members": training.members,
        "training_minutes": training.minutes,
        "training_below": training.below,
    }


def snapshot_training(snapshot: BranchSnapshot) -> BranchTraining:
    """The branch's 学时 together as stored in its snapshot."""
    return BranchTraining(
        snapshot.training_members, snapshot.training_minutes, snapshot.training_below
    )


def refresh_committee(committee_id: int, now: datetime, settings: Settings) -> int:
    """Compute and store the snapshot of every branch of one committee; return how many."""
    today, figures = committee_figures(committee_id, now, settings)
    training = committee_training(committee_id, now, settings, year=today.year)
    rows = [
        _row(f, training.get(f.branch.id, BranchTraining()), committee_id, today, now)
        for f in figures
    ]
    active = dict(
        Member.select(Member.branch, fn.MAX(Member.last_active_at))
        .join(Branch)
        .where(Branch.committee == committee_id)
        .group_by(Member.branch)
        .tuples()
    )
    for row in rows:
        last = active.get(row["branch"])
        row["last_active_at"] = BranchSnapshot.last_active_at.python_value(last)
    with write_tx():
        BranchSnapshot.delete().where(BranchSnapshot.committee == committee_id).execute()
        for start in range(0, len(rows), 500):
            BranchSnapshot.insert_many(rows[start : start + 500]).execute()
    return len(rows)


def refresh_all(now: datetime, settings: Settings) -> int:
    """The job: refresh every committee's snapshot; return how many branches."""
    total = 0
    for (committee_id,) in Committee.select(Committee.id).order_by(Committee.id).tuples():
        total += refresh_committee(committee_id, now, settings)
    log.info("branch snapshots refreshed: %d branches", total)
    return total


@dataclass(frozen=True)
class Comparison:
    committee: Committee
    computed_at: datetime
    as_of: date
    month: date
    rows: list[BranchSnapshot]  # each with .branch loaded, by branch id


def committee_comparison(
    actor: Member, *, now: datetime, settings: Settings, refresh: bool = False
) -> Comparison:
    """The committee admin's comparison of their branches, from the stored snapshot (computed
    first when asked to or when stale: committee_snapshots)."""
    require_role(actor, "committee_admin")
    committee = Committee.get_by_id(actor.branch.committee_id)
    rows = committee_snapshots(committee.id, now, settings, refresh=refresh)
    first = rows[0] if rows else None
    return Comparison(
        committee,
        min((r.computed_at for r in rows), default=now),
        first.as_of if first else now.date(),
        first.month if first else now.date().replace(day=1),
        rows,
    )


def committee_snapshots(
    committee_id: int, now: datetime, settings: Settings, *, refresh: bool = False
) -> list[BranchSnapshot]:
    """Every branch's stored snapshot, by branch id, each with .branch loaded; computed first
    when asked to, when missing, when a branch lacks one, when one is older than
    console.snapshot_max_age_minutes or holds no 学时 (stored before they were)."""
    rows = _read(committee_id)
    if refresh or _stale(rows, now, settings):
        refresh_committee(committee_id, now, settings)
        rows = _read(committee_id)
    return rows


def _stale(rows: list[BranchSnapshot], now: datetime, settings: Settings) -> bool:
    if not rows or len(rows) != rows[0].branches:
        return True
    limit = timedelta(minutes=settings.console.snapshot_max_age_minutes)
    if now - min(r.computed_at for r in rows) > limit:
        return True
    return any(r.training_year != r.as_of.year for r in rows)


def _read(committee_id: int) -> list[BranchSnapshot]:
    """The committee's snapshots, each with how many branches the committee has now."""
    branches = Branch.select(fn.COUNT(Branch.id)).where(Branch.committee == committee_id)
    query = (
        BranchSnapshot.select(BranchSnapshot, Branch, branches.alias("branches"))
        .join(Branch)
        .where(BranchSnapshot.committee == committee_id)
        .order_by(Branch.id)
    )
    return list(query)
