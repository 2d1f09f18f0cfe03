"""The committee page's people in figures: each branch's 学时 (average, share below the bar),
age structure, admissions this year and this month's confirmed volunteer service — counts per
branch, never names. Read live in a few grouped queries; the page loads it on its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from handlers.overview import People, committee_people
from handlers.roster.access import require_role
from handlers.roster.makeup import band_labels
from models.org import Branch, Member


@dataclass(frozen=True)
class BranchPeople:
    branch_id: int
    name: str
    people: People


@dataclass(frozen=True)
class CommitteePeople:
    today: date
    rows: list[BranchPeople]  # by branch id
    band_labels: list[str]
    required_hours: int


def committee_people_page(actor: Member, *, now: datetime, settings: Settings) -> CommitteePeople:
    """Every branch of the committee admin's committee, its people in figures."""
    require_role(actor, "committee_admin")
    committee_id = actor.branch.committee_id
    branches = list(
        Branch.select(Branch.id, Branch.name)
        .where(Branch.committee == committee_id)
        .order_by(Branch.id)
    )
    found = committee_people(committee_id, [b.id for b in branches], now, settings)
    rows = [BranchPeople(b.id, b.name, found[b.id]) for b in branches]
    today = local_day(now, ZoneInfo(settings.app.timezone))
    required = settings.training.required_hours_per_year
    return CommitteePeople(today, rows, band_labels(settings), required)
