"""Shapes of the volunteer-service and training-hours routes (api/volunteer.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import (
    Answer,
    Count,
    Day,
    DayText,
    Id,
    Ids,
    Int,
    Month,
    OneLine,
    Page,
    PageQuery,
    Request,
    TimeText,
)
from api.shapes.branch import BRANCH_ID
from api.shapes.v1 import Branch
from models.volunteer import SOURCES, STATUSES

Status = Literal[tuple(STATUSES)]  # type: ignore[valid-type]
Source = Literal[tuple(SOURCES)]  # type: ignore[valid-type]
Hours = float
MAX_TRAINING_MEMBERS = 500
Minutes = Int(1, 100_000)
HOURS_TEXT = "Minutes as hours, one decimal (90 → 1.5)"


# ---- requests --------------------------------------------------------------------------------


class VolunteerLogRequest(Request):
    minutes: Minutes = Constraint(
        description="The service's length in minutes, at most volunteer.max_hours_per_entry hours"
    )
    description: OneLine(200, max_len_setting="volunteer.description_max_chars") = Constraint(
        description="服务内容: what was done"
    )
    day: Day | None = Constraint(
        default=None,
        description="The day of the service (default today), within volunteer.max_days_back days",
    )


class VolunteerListQuery(PageQuery):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    status: OneLine(16, required=False, choices=tuple(STATUSES)) | None = None
    month: Month | None = Constraint(default=None, description="Only entries of this month")


class VolunteerRejectRequest(Request):
    reason: OneLine(200, max_len_setting="volunteer.reason_max_chars") = Constraint(
        description="Why it goes back; the member is told"
    )


class TrainingListQuery(PageQuery):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)


class TrainingCreateRequest(Request):
    member_ids: Ids(MAX_TRAINING_MEMBERS) = Constraint(description="Party members of the branch")
    title: OneLine(200, max_len_setting="training.title_max_chars") = Constraint(
        description="培训名称, e.g. 县委党校专题培训班"
    )
    day: Day = Constraint(description="Its (last) day; not after today")
    minutes: Minutes = Constraint(
        description="Its length in minutes, at most training.max_hours_per_record hours"
    )
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)


# ---- answers ---------------------------------------------------------------------------------


class VolunteerPerson(Answer):
    id: int
    name: str


class VolunteerEntry(Answer):
    id: int
    member: VolunteerPerson
    branch_id: int
    day: DayText
    minutes: Count
    hours: Hours = Constraint(description=HOURS_TEXT)
    description: str
    status: Status
    status_label: str
    reason: str = Constraint(description="Why it was sent back (empty otherwise)")
    source: Source
    created_at: TimeText
    decided_at: TimeText | None


class VolunteerTotals(Answer):
    year: int
    confirmed_minutes: Count
    confirmed_hours: Hours
    confirmed_entries: Count
    pending_minutes: Count
    pending_entries: Count
    rejected_entries: Count


class VolunteerLogged(Answer):
    entry: VolunteerEntry
    message: str = Constraint(description="What was logged, and that the secretary confirms it")


class VolunteerMine(Page):
    items: list[VolunteerEntry]
    totals: VolunteerTotals


class VolunteerBranchPage(Page):
    branch: Branch
    items: list[VolunteerEntry]
    pending: Count = Constraint(description="Entries of the branch waiting, whatever the filter")


class TrainingCounted(Answer):
    day: DayText
    kind: str = Constraint(description="A meeting kind (lesson, theme_day…), or record")
    kind_label: str
    title: str
    minutes: Count


class TrainingYear(Answer):
    year: int
    required_hours: int
    meeting_minutes: Count
    other_minutes: Count
    minutes: Count
    hours: Hours
    below: bool = Constraint(description="Under the year's required hours so far")


class MyTraining(TrainingYear):
    items: list[TrainingCounted]


class TrainingMember(Answer):
    member: VolunteerPerson
    meeting_minutes: Count
    other_minutes: Count
    minutes: Count
    hours: Hours
    below: bool


class TrainingBranchPage(Page):
    branch: Branch
    year: int
    required_hours: int
    average_hours: Hours | None
    below: Count = Constraint(description="Party members under the required hours")
    items: list[TrainingMember]


class TrainingRecordItem(Answer):
    id: int
    member: VolunteerPerson
    title: str
    day: DayText
    minutes: Count
    hours: Hours


class TrainingCreated(Answer):
    count: Count
    records: list[TrainingRecordItem]
