"""The committee's view of its branches' organization, branch by branch (never people across
branches): the committee's term, whether a party-affairs staffer (党务专职人员) is designated,
and how many lost-contact cases are open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.config import Settings
from handlers.organization.base import local_today
from handlers.organization.followup import open_counts
from handlers.organization.terms import TermState, term_states
from handlers.roster.access import require_role
from models.org import Branch, Member

STAFF_ROLE = "affairs_staff"


def staffed_branches(committee_id: int | None = None) -> set[int]:
    """Branches (of one committee, or all) with a member holding the party-affairs staff role,
    in one query."""
    query = Member.select(Member.branch, Member.roles).where(Member.roles.contains(STAFF_ROLE))
    if committee_id is not None:
        ours = Branch.select(Branch.id).where(Branch.committee == committee_id)
        query = query.where(Member.branch.in_(ours))
    # LIKE '%affairs_staff%' is a superset: the exact role is checked here.
    return {b for b, roles in query.tuples() if STAFF_ROLE in roles.split(",")}


@dataclass(frozen=True)
class BranchHealth:
    branch_id: int
    name: str
    committee_id: int
    term: TermState
    affairs_staff: bool  # a member holds 党务专职人员
    lost_contact_open: int  # members out of touch whose case is open

    @property
    def flags(self) -> int:
        """How many things the committee should follow up for this branch."""
        return (
            (self.term.status in ("none", "overdue"))
            + (not self.affairs_staff)
            + (self.lost_contact_open > 0)
        )


def branches_health(
    now: datetime, settings: Settings, committee_id: int | None = None
) -> list[BranchHealth]:
    """Every branch's organization figures (of one committee, or all), by branch id, in a
    constant number of queries."""
    today = local_today(now, settings)
    terms = term_states(today, settings, committee_id)
    staffed = staffed_branches(committee_id)
    lost = open_counts(now, settings, committee_id)
    query = Branch.select(Branch.id, Branch.name, Branch.committee)
    if committee_id is not None:
        query = query.where(Branch.committee == committee_id)
    return [
        BranchHealth(b, name, c, terms[b], b in staffed, lost.get(b, 0))
        for b, name, c in query.order_by(Branch.id).tuples()
    ]


@dataclass(frozen=True)
class HealthPage:
    today: date
    branches: list[BranchHealth]
    total: int


def committee_organization(
    actor: Member, *, now: datetime, settings: Settings, limit: int, offset: int
) -> HealthPage:
    """The committee admin's branches, side by side: term, staffer, open lost-contact cases."""
    require_role(actor, "committee_admin")
    committee_id = Branch.get_by_id(actor.branch_id).committee_id
    rows = branches_health(now, settings, committee_id)
    return HealthPage(local_today(now, settings), rows[offset : offset + limit], len(rows))
