"""A branch's organizational health: its committee's terms (换届), the follow-up of members who
lost contact (失联党员), and the party-affairs staffer (党务专职人员) the committee checks for.

The package re-exports its public names: ``from handlers import organization`` and
``organization.record_term(...)`` whichever module holds the use case.
"""

from handlers.organization.base import Person, day_text
from handlers.organization.committee import (
    BranchHealth,
    HealthPage,
    branches_health,
    committee_organization,
    staffed_branches,
)
from handlers.organization.followup import (
    Case,
    CasePage,
    Outcome,
    branch_cases,
    open_counts,
    record_outcome,
)
from handlers.organization.terms import (
    STATUS_LABELS,
    DueTerm,
    Term,
    TermPage,
    TermState,
    branch_term,
    due_terms,
    judge,
    record_term,
    term_state,
    term_states,
)
from handlers.organization.touch import (
    is_open,
    lost_contact,
    lost_contact_people,
    open_cases,
    reopens_on,
)

__all__ = [
    "STATUS_LABELS",
    "BranchHealth",
    "Case",
    "CasePage",
    "DueTerm",
    "HealthPage",
    "Outcome",
    "Person",
    "Term",
    "TermPage",
    "TermState",
    "branch_cases",
    "branch_term",
    "branches_health",
    "committee_organization",
    "day_text",
    "due_terms",
    "is_open",
    "judge",
    "lost_contact",
    "lost_contact_people",
    "open_cases",
    "open_counts",
    "record_outcome",
    "record_term",
    "reopens_on",
    "staffed_branches",
    "term_state",
    "term_states",
]
