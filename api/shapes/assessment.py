"""Shapes of the branch assessment routes (api/assessment.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field as Constraint

from api.shapes import Answer, Count, Id, Limit, Month, MonthText, Offset, Page, Request
from api.shapes.branch import BRANCH_ID
from api.shapes.v1 import Branch

MONTH = "YYYY-MM, a complete month (the current one is refused); default last month"
Score = Annotated[float | None, Constraint(ge=0, le=100, description="0..100; null: not rated")]
Stars = Annotated[int | None, Constraint(ge=1, le=5, description="1..5; null: not rated")]


class CommitteeAssessmentQuery(Request):
    month: Month | None = Constraint(default=None, description=MONTH)
    limit: Limit | None = Constraint(default=None, description="default 20")
    offset: Offset | None = None


class BranchAssessmentQuery(Request):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    month: Month | None = Constraint(default=None, description=MONTH)


class AssessmentWeight(Answer):
    key: str
    label: str
    weight: Count


class AssessmentPart(Answer):
    """One criterion of a branch's breakdown."""

    key: str
    label: str
    weight: Count = Constraint(description="As configured")
    counted: bool = Constraint(
        description="false: weight 0, no data yet, or nothing due this month (see text)"
    )
    share: Annotated[float | None, Constraint(ge=0, le=100)] = Constraint(
        description="The weight renormalised over the counted criteria (they sum to 100)"
    )
    rate: Annotated[float | None, Constraint(ge=0, le=1)]
    points: Annotated[float | None, Constraint(ge=0, le=100)] = Constraint(
        description="share × rate"
    )
    done: int
    due: int = Constraint(description="0: not applicable")
    text: str = Constraint(description="The figures (达标 4/5 项), or why it is not counted")


class AssessmentScore(Answer):
    branch: Branch
    month: MonthText
    judged: bool = Constraint(description="false: the branch was not in the system all month")
    score: Score
    stars: Stars
    stars_label: str
    rank: Annotated[int | None, Constraint(ge=1)] = Constraint(
        description="Among the committee's branches with a score (equal scores share a rank)"
    )
    renormalised: bool
    criteria: list[AssessmentPart]


class CommitteeAssessmentPage(Page):
    items: list[AssessmentScore]
    month: MonthText
    ranked: Count = Constraint(description="Branches with a score")
    weights: list[AssessmentWeight]


class AssessmentTrendPoint(Answer):
    month: MonthText
    score: Score
    stars: Stars
    stars_label: str


class BranchAssessmentAnswer(Answer):
    month: MonthText
    score: AssessmentScore
    ranked: Count = Constraint(description="Branches of the committee with a score")
    trend: list[AssessmentTrendPoint] = Constraint(description="Oldest first, ending at month")
