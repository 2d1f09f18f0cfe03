"""Shapes of the study-plan routes for branch managers (api/study.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict
from pydantic import Field as Constraint

from api.shapes import (
    Answer,
    Count,
    Day,
    DayText,
    Id,
    MonthText,
    MultiLine,
    OneLine,
    Request,
)
from api.shapes.branch import BRANCH_ID
from api.shapes.v1 import Branch, TopicCategory
from handlers.study.plans import URL_MAX_CHARS
from handlers.study.views import LEVELS
from models.study import TOPIC_CATEGORIES

# What ``category`` takes: a label (学党章党规) or its code (charter).
CATEGORY_INPUTS = (*TOPIC_CATEGORIES.values(), *TOPIC_CATEGORIES)
TITLE_MAX = 200  # StudyTopic.title; study.title_max_chars is the working limit
MONTH_TEXT_MAX = 20

Level = Literal[tuple(LEVELS)]  # type: ignore[valid-type]

Title = OneLine(TITLE_MAX, max_len_setting="study.title_max_chars")
Category = OneLine(16, choices=CATEGORY_INPUTS)
Summary = MultiLine(max_len_setting="study.summary_max_chars")
Url = OneLine(URL_MAX_CHARS, required=False)

CATEGORY_TEXT = "学党章党规, 学系列讲话 or 其他, or the code charter, speeches or other"
URL_TEXT = "An http:// or https:// address; empty for none"


# ---- requests --------------------------------------------------------------------------------


class StudyPlanQuery(Request):
    month: OneLine(MONTH_TEXT_MAX, required=False) | None = Constraint(
        default=None,
        description="YYYY-MM (2026年12月, 本月 and 上月 are read too); default the current month",
    )
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)


class StudyTopicCreate(Request):
    day: Day
    title: Title
    category: Category = Constraint(description=CATEGORY_TEXT)
    summary: Summary | None = Constraint(default=None, description="内容; may break lines")
    url: Url | None = Constraint(default=None, description=URL_TEXT)
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)


class StudyTopicEdit(Request):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    day: Day | None = Constraint(
        default=None, description="Another day, which must not have a topic of the branch"
    )
    title: Title | None = None
    category: Category | None = Constraint(default=None, description=CATEGORY_TEXT)
    summary: Summary | None = Constraint(default=None, description="Empty to clear")
    url: Url | None = Constraint(default=None, description=URL_TEXT + " (empty to clear)")


# ---- answers ---------------------------------------------------------------------------------


class PlanTopic(Answer):
    """A topic of the branch's plan: its own (level branch) or inherited."""

    id: int
    day: DayText
    title: str
    category: TopicCategory
    category_label: str
    summary: str
    url: str
    level: Level = Constraint(description="branch: the branch's own; committee; everyone")
    level_label: str
    editable: bool = Constraint(description="Only the branch's own topics can be changed")


class StudyPlanDay(Answer):
    day: DayText
    workday: bool
    topic: PlanTopic | None = Constraint(description="The topic the branch's members get")


class StudyPlan(Answer):
    branch: Branch
    month: MonthText
    days: list[StudyPlanDay] = Constraint(description="Every day of the month")
    planned: Count = Constraint(description="Days with a topic")
    unplanned_workdays: list[DayText] = Constraint(description="Working days without a topic")


class StudyTopicDeleted(Answer):
    id: int
    deleted: Literal[True]
