"""/api/v1 routes: the branch's study plan for its managers.

Branch managers (handlers.study.editing.STUDY_MANAGERS: the secretary, deputy secretary,
organizer and 宣传委员 for their own branch; committee admins for every branch of their
committee, chosen with ``branch_id``) read the month's plan and add, change and delete the
branch's own topics. A topic the committee or everyone was given is shown (level committee or
everyone, not editable) and cannot be changed here: the branch adds its own for that day.

A topic of a branch the caller may not see answers 404, like an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from api.common import body, bp, day_text, member, query, render_as, settings, tz
from api.errors import ApiError
from api.openapi import operation
from api.shapes import invalid
from api.shapes import study as shapes
from core.clock import utcnow
from core.datetext import DateTextError, parse_month
from core.workdays import work_calendar
from handlers.study.editing import (
    BranchMonth,
    add_topic,
    branch_month_plan,
    change_topic,
    remove_topic,
)
from handlers.study.views import LEVELS, topic_level
from models.study import TOPIC_CATEGORIES, StudyTopic

READ = ("400", "401", "403")
WRITE = ("400", "401", "403", "409")


def plan_topic(topic: StudyTopic, *, editable: bool) -> dict[str, Any]:
    level = topic_level(topic)
    return {
        "id": topic.id,
        "day": day_text(topic.day),
        "title": topic.title,
        "category": topic.category,
        "category_label": TOPIC_CATEGORIES.get(topic.category, topic.category),
        "summary": topic.content,
        "url": topic.url,
        "level": level,
        "level_label": LEVELS[level],
        "editable": editable,
    }


def _plan(month: BranchMonth, year: int, number: int) -> dict[str, Any]:
    plan = month.plan
    return {
        "branch": {"id": month.branch.id, "name": month.branch.name},
        "month": f"{year:04d}-{number:02d}",
        "days": [
            {
                "day": day_text(d.day),
                "workday": d.workday,
                "topic": plan_topic(d.topic, editable=month.editable(d.topic))
                if d.topic is not None
                else None,
            }
            for d in plan.days
        ],
        "planned": plan.planned,
        "unplanned_workdays": [day_text(d) for d in plan.unplanned_workdays],
    }


def month_asked(text: str | None) -> tuple[int, int]:
    """The month asked for (YYYY-MM, 2026年12月, 本月, ...), default the current one."""
    try:
        year, month = parse_month(text or "本月", now=utcnow(), tz=tz())
    except DateTextError as exc:
        raise invalid("month", exc.message) from None
    api = settings().api
    if not api.earliest_year <= year <= api.latest_year:
        raise invalid("month", f"的年份应在 {api.earliest_year} 到 {api.latest_year} 之间。")
    return year, month


@bp.get("/branch/study-plan")
@operation(
    "Branch managers: the month's study plan, day by day",
    {200: (shapes.StudyPlan, "Every day of the month and the topic the branch gets")},
    errors=READ,
    query=shapes.StudyPlanQuery,
    description="Each day says whether it is a working day and which topic the branch's "
    "members get: the branch's own (editable) or its committee's or everyone's.",
)
def branch_study_plan() -> Response:
    """The branch's study plan for a month."""
    args = query(shapes.StudyPlanQuery)
    year, month = month_asked(args.get("month"))
    plan = branch_month_plan(
        member(), args.get("branch_id"), year, month, calendar=work_calendar(settings())
    )
    return render_as(shapes.StudyPlan, _plan(plan, year, month))


@bp.post("/branch/study-topics")
@operation(
    "Branch managers: add the branch's own topic for a day",
    {201: (shapes.PlanTopic, "Added")},
    errors=WRITE,
    json=shapes.StudyTopicCreate,
    description="A committee's or everyone's topic that day is replaced for the branch; a day "
    "that already has the branch's own topic answers 409.",
)
def branch_study_topic_add() -> Response:
    """Add one of the branch's own study topics."""
    args = body(shapes.StudyTopicCreate)
    branch_id = args.pop("branch_id", None)
    topic = add_topic(member(), branch_id, settings=settings(), now=utcnow(), **args)
    response = render_as(shapes.PlanTopic, plan_topic(topic, editable=True))
    response.status_code = 201
    return response


@bp.patch("/branch/study-topics/<id:topic_id>")
@operation(
    "Branch managers: change one of the branch's own topics",
    {200: (shapes.PlanTopic, "Changed")},
    errors=WRITE,
    json=shapes.StudyTopicEdit,
    description="A committee's or everyone's topic answers 403: add the branch's own for "
    "that day instead.",
)
def branch_study_topic_edit(topic_id: int) -> Response:
    """Change some fields of one of the branch's own topics."""
    args = body(shapes.StudyTopicEdit)
    if not args:
        raise ApiError(400, "missing_field", "请至少提供一个要修改的字段。")
    topic = change_topic(member(), topic_id, settings=settings(), now=utcnow(), **args)
    return render_as(shapes.PlanTopic, plan_topic(topic, editable=True))


@bp.delete("/branch/study-topics/<id:topic_id>")
@operation(
    "Branch managers: delete one of the branch's own topics",
    {200: (shapes.StudyTopicDeleted, "Deleted; members' check-ins on it stay")},
    errors=READ,
)
def branch_study_topic_delete(topic_id: int) -> Response:
    """Delete one of the branch's own topics; check-ins made on it stay, without a topic."""
    query()
    topic = remove_topic(member(), topic_id, now=utcnow())
    return render_as(shapes.StudyTopicDeleted, {"id": topic.id, "deleted": True})
