"""The committee page's people in figures: each branch's 学时 (average, share below the bar),
age structure, admissions this year and this month's confirmed volunteer service — counts per
branch, never names. The 学时 are read from the branch snapshots (handlers.snapshots: computed
first when stale, as for the comparison), the rest live in two grouped queries; the page loads
it on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from handlers.overview import People, committee_people
from handlers.roster.access import require_role
from handlers.roster.makeup import band_labels
from handlers.snapshots import committee_snapshots, snapshot_training
from models.org import Member


@dataclass(frozen=True)
class BranchPeople:
    branch_id: int
    name: str
    people: People


@dataclass(frozen=True)
class CommitteePeople:
    today: date  # the day the 学时 are for
    rows: list[BranchPeople]  # by branch id
    band_labels: list[str]
    required_hours: int


def committee_people_page(actor: Member, *, now: datetime, settings: Settings) -> CommitteePeople:
    """Every branch of the committee admin's committee, its people in figures."""
    require_role(actor, "committee_admin")
    committee_id = actor.branch.committee_id
    snapshots = committee_snapshots(committee_id, now, settings)
    training = {s.branch_id: snapshot_training(s) for s in snapshots}
    found = committee_people(committee_id, list(training), now, settings, training=training)
    rows = [BranchPeople(s.branch.id, s.branch.name, found[s.branch_id]) for s in snapshots]
    today = snapshots[0].as_of if snapshots else local_day(now, ZoneInfo(settings.app.timezone))
    required = settings.training.required_hours_per_year
    return CommitteePeople(today, rows, band_labels(settings), required)
