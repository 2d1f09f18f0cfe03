"""Shapes of the core routes (api/v1.py): login, binding, the profile, study check-ins."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field as Constraint
from pydantic import RootModel

from api.shapes import Answer, DayText, MultiLine, OneLine, Request, TimeText
from models.study import TOPIC_CATEGORIES

TopicCategory = Literal[tuple(TOPIC_CATEGORIES)]  # type: ignore[valid-type]


class Role(Answer):
    code: str
    label: str


class Branch(Answer):
    id: int
    name: str


class Member(Answer):
    id: int
    name: str
    phone: str = Constraint(description="Masked: 138****5678.")
    status: str
    status_label: str
    branch: Branch
    roles: list[Role]


class MeTraining(Answer):
    year: int
    hours: float = Constraint(description="学时 this year so far, one decimal")
    required_hours: int
    below: bool


class Me(Member):
    training: MeTraining | None = Constraint(description="Party members only")
    volunteer_hours: float = Constraint(description="Confirmed volunteer service this year")


class Topic(Answer):
    id: int
    day: DayText
    title: str
    category: TopicCategory = Constraint(description="charter, speeches or other")
    category_label: str = Constraint(description="学党章党规, 学系列讲话 or 其他")
    content: str
    url: str


class Checkin(Answer):
    id: int
    day: DayText
    topic_id: int | None
    reflection: str
    source: Literal["bot", "api"]
    created_at: TimeText
    updated_at: TimeText


class Week(Answer):
    week_start: DayText
    days_checked: list[bool] = Constraint(
        min_length=7, max_length=7, description="Monday to Sunday."
    )
    days_count: Annotated[int, Constraint(ge=0, le=7)]
    streak: Annotated[int, Constraint(ge=0)]
    total: Annotated[int, Constraint(ge=0)]


# A wx.login code, a binding code, a reflection (its length is a setting).
LoginCode = OneLine(128)
BindCode = OneLine(64)
Reflection = MultiLine(max_len_setting="study.reflection_max_chars")


class LoginRequest(Request):
    code: LoginCode


class LoginResponse(Answer):
    token: Annotated[str, Constraint(min_length=1)]
    expires_at: TimeText
    bound: bool
    member: Member | None = Constraint(default=None, description="Present once bound.")


class BindRequest(Request):
    code: BindCode


class BindResponse(Answer):
    bound: Literal[True]
    member: Member


class StudyToday(Answer):
    day: DayText
    topic: Topic | None
    checked_in: bool


class CheckinRequest(Request):
    reflection: Reflection | None = None


class CheckinResponse(Answer):
    created: bool
    checkin: Checkin
    topic: Topic | None
    week: Week


class StudyMe(Answer):
    week: Week
    recent: list[Checkin] = Constraint(max_length=30)


class OpenApiDocument(RootModel[dict[str, Any]]):
    """OpenAPI 3.1"""
