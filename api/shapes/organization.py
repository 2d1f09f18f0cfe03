"""Shapes of the branch organization routes (api/organization.py): committee terms (换届),
lost-contact follow-up (失联党员) and the committee's comparison of its branches."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import (
    Answer,
    Count,
    Day,
    DayText,
    Id,
    Int,
    MultiLine,
    OneLine,
    Page,
    PageQuery,
    Request,
    TimeText,
)
from api.shapes.branch import BRANCH_ID
from api.shapes.v1 import Branch
from handlers.organization import STATUS_LABELS
from models.organization import OUTCOMES

TermStatus = Literal[tuple(STATUS_LABELS)]  # type: ignore[valid-type]
OutcomeCode = Literal[tuple(OUTCOMES)]  # type: ignore[valid-type]
OUTCOME_TEXT = (
    "reached 联系上, away 流动党员 (place required), lost 仍未联系上, stopping 已启动停止党籍程序"
)
STATUS_TEXT = "none 未登记换届信息, ok 任期内, due_soon 即将届满, overdue 已届满未换届"


# ---- requests --------------------------------------------------------------------------------


class BranchPageQuery(PageQuery):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)


class TermRequest(Request):
    started_on: Day = Constraint(description="The day the new committee's term starts")
    years: Int(1, 100) | None = Constraint(
        default=None,
        description="The branch's own term length (1..terms.max_years); default: the "
        "branch's previous length, else terms.years",
    )
    note: MultiLine(max_len_setting="terms.note_max_chars") | None = None
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)


class OutcomeRequest(Request):
    outcome: OneLine(12, choices=tuple(OUTCOMES)) = Constraint(description=OUTCOME_TEXT)
    happened_on: Day = Constraint(description="The day of the follow-up: today or earlier")
    place: OneLine(max_len_setting="lost_contact.place_max_chars", required=False) | None = (
        Constraint(default=None, description="Where a 流动党员 is")
    )
    note: MultiLine(max_len_setting="lost_contact.note_max_chars") | None = None


# ---- answers ---------------------------------------------------------------------------------


class OrgPerson(Answer):
    id: int
    name: str


class Term(Answer):
    id: int
    started_on: DayText
    ends_on: DayText
    years: int
    own_years: bool = Constraint(description="The branch's own length (else terms.years)")
    note: str
    recorded_at: TimeText
    recorded_by: OrgPerson | None


class TermStatusShape(Answer):
    status: TermStatus = Constraint(description=STATUS_TEXT)
    status_label: str
    started_on: DayText | None
    ends_on: DayText | None
    days_left: int | None = Constraint(description="Days to the end; negative once it passed")


class BranchTerms(Answer):
    branch: Branch
    as_of: DayText
    status: TermStatus = Constraint(description=STATUS_TEXT)
    status_label: str
    days_left: int | None = Constraint(description="Days to the end; negative once it passed")
    current: Term | None
    history: list[Term] = Constraint(description="Newest first, the current term first")


class OutcomeShape(Answer):
    outcome: OutcomeCode
    outcome_label: str
    happened_on: DayText
    place: str
    note: str
    recorded_at: TimeText
    recorded_by: OrgPerson | None


class LostContactCase(Answer):
    member: OrgPerson
    last_active_on: DayText | None
    open: bool = Constraint(description="Not followed up, or the last outcome's span is over")
    reopens_on: DayText | None = Constraint(
        description="When a handled case opens again if the member is still out of touch"
    )
    last_outcome: OutcomeShape | None


class LostContactPage(Page):
    items: list[LostContactCase]
    branch: Branch
    open: Count
    days: int = Constraint(description="alerts.lost_contact_days")


class CommitteeOrganizationItem(Answer):
    branch: Branch
    term: TermStatusShape
    affairs_staff: bool = Constraint(description="A member holds 党务专职人员 (affairs_staff)")
    lost_contact_open: Count = Constraint(description="Open lost-contact cases (a count)")


class CommitteeOrganizationPage(Page):
    items: list[CommitteeOrganizationItem]
    as_of: DayText
