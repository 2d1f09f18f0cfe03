"""Lost contact: party members with no interaction for the configured span (the reading lives
in handlers.organization.touch, next to the secretary's follow-up of each case)."""

from __future__ import annotations

from handlers.meetings import COMMITTEE_ROLES
from handlers.organization.touch import lost_contact, lost_contact_people, open_cases
from models.org import Member

__all__ = ["committee_members", "lost_contact", "lost_contact_people", "open_cases"]


def committee_members(branch_ids: list[int]) -> set[int]:
    """Ids of branch committee members, for checks that concern them."""
    return {
        m.id
        for m in Member.select().where(Member.branch.in_(branch_ids), Member.roles != "")
        if m.has_role(*COMMITTEE_ROLES)
    }
