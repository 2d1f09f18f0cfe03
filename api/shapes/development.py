"""Shapes of the development routes (api/development.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import (
    Answer,
    Bool,
    Count,
    Day,
    DayText,
    Id,
    Ids,
    Int,
    MultiLine,
    OneLine,
    Page,
    PageQuery,
    Request,
)
from handlers.development import PIPELINE
from models.development import STAGES, STEPS

Step = Literal[tuple(STEPS)]  # type: ignore[valid-type]
Stage = Literal[tuple(STAGES)]  # type: ignore[valid-type]

STEP_TEXT = (
    "apply 递交入党申请, talk 入党谈话, activist 确定为入党积极分子, contacts 指定培养联系人, "
    "review 培养考察, candidate 确定为发展对象, political_review 政治审查, training 集中培训, "
    "admit 接收为预备党员, extend 延长预备期, full 转为正式党员"
)
ONLY_MANAGERS = (
    "The branch's own managers (书记, 副书记, 组织委员): its id, or none for their own."
)


# ---- requests --------------------------------------------------------------------------------


class DevelopmentListQuery(PageQuery):
    branch_id: Id | None = Constraint(default=None, description=ONLY_MANAGERS)
    stage: OneLine(16, required=False, choices=PIPELINE) | None = None
    overdue: Bool | None = Constraint(
        default=None, description="true: only people with a step past its deadline"
    )


class DevelopmentStepRequest(Request):
    step: OneLine(20, choices=tuple(STEPS)) = Constraint(description=STEP_TEXT)
    on: Day = Constraint(description="The day the step was taken (not after today)")
    contact_ids: Ids(2) | None = Constraint(
        default=None, description="contacts: one or two full members of the branch"
    )
    note: MultiLine(max_len_setting="development.note_max_chars") | None = Constraint(
        default=None, description="review: the findings; extend: the reason (required)"
    )
    months: Int(1, 24) | None = Constraint(
        default=None, description="extend: 6 to 12 months ([development] extension_*_months)"
    )


class DevelopmentCorrectionRequest(Request):
    on: Day | None = Constraint(default=None, description="The step's corrected day")
    review_on: Day | None = Constraint(
        default=None, description="review: the recorded day of the review to correct (required)"
    )
    contact_ids: Ids(2) | None = Constraint(
        default=None, description="contacts: one or two full members of the branch"
    )
    note: MultiLine(max_len_setting="development.note_max_chars") | None = Constraint(
        default=None, description="review: the findings; extend: the reason"
    )
    months: Int(1, 24) | None = Constraint(default=None, description="extend: 6 to 12 months")


class DevelopmentRemovalRequest(Request):
    reason: MultiLine(required=True, max_len_setting="development.note_max_chars") = Constraint(
        description="Why the step is removed (kept in the audit log)"
    )


# ---- answers ---------------------------------------------------------------------------------


class DevelopmentPerson(Answer):
    id: int
    name: str


class DevelopmentDeadline(Answer):
    step: Step
    label: str
    due: DayText
    days_left: int = Constraint(description="Negative once the day passed")
    overdue: bool


class DevelopmentNext(Answer):
    step: Step
    label: str
    earliest: DayText | None = Constraint(description="The first day it is allowed, if any")
    allowed_now: bool


class Development(Answer):
    member: DevelopmentPerson
    stage: Stage
    stage_label: str
    next_step: DevelopmentNext | None
    deadline: DevelopmentDeadline | None
    overdue: bool


class DevelopmentStages(Answer):
    applicant: Count
    activist: Count
    candidate: Count
    probationary: Count


class DevelopmentPage(Page):
    items: list[Development]
    stages: DevelopmentStages = Constraint(description="People per stage in the branch")
    overdue: Count = Constraint(description="People in the branch with a step overdue")


class DevelopmentStepDay(Answer):
    step: Step
    label: str
    on: DayText | None


class DevelopmentReview(Answer):
    on: DayText
    note: str = Constraint(description="The findings; empty on the member's own record")


class DevelopmentDetail(Development):
    steps: list[DevelopmentStepDay]
    reviews: list[DevelopmentReview]
    contacts: list[DevelopmentPerson]
    probation_ends: DayText | None
    extension_months: int | None
    extension_reason: str
