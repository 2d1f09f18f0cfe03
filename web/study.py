"""The console's study plan page: a month of the branch's topics, and its own to add or change."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import redirect, request, url_for

from core.clock import utcnow
from core.datetext import DateTextError, parse_month
from core.workdays import work_calendar
from handlers.errors import Conflict, Invalid
from handlers.study.editing import (
    add_topic,
    branch_month_plan,
    change_topic,
    remove_topic,
    topic_to_change,
)
from handlers.study.views import LEVELS
from models.study import TOPIC_CATEGORIES
from web.common import bp, nav_item, page, settings, tz, user

nav_item(50, "学习", "console.study")
WEEKDAYS = "一二三四五六日"


def _month() -> tuple[int, int]:
    try:
        return parse_month(request.args.get("month") or "本月", now=utcnow(), tz=tz())
    except DateTextError:
        return parse_month("本月", now=utcnow(), tz=tz())


def _form() -> dict[str, str]:
    keys = ("day", "title", "category", "summary", "url")
    return {k: (request.form.get(k) or "").strip() for k in keys}


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("请选择日期（例如 2026-12-01）。") from None


def _topic_fields(form: dict[str, str]) -> dict[str, Any]:
    """The handler's arguments from the form (a bad date refused as Invalid)."""
    return {
        "day": _day(form["day"]),
        "title": form["title"],
        "category": form["category"],
        "summary": form["summary"],
        "url": form["url"],
        "settings": settings(),
        "now": utcnow(),
    }


def _to_month(branch_id: int, day: date) -> Any:
    """Back to the plan, at the month of the topic just saved."""
    return redirect(url_for("console.study", branch_id=branch_id, month=f"{day:%Y-%m}"), 303)


def _render(branch_id: int, year: int, month: int, *, form=None, error="", status=200) -> Any:
    view = branch_month_plan(
        user().member, branch_id, year, month, calendar=work_calendar(settings())
    )
    return page(
        "study.html",
        status,
        view=view,
        year=year,
        month=month,
        weekdays=WEEKDAYS,
        levels=LEVELS,
        categories=TOPIC_CATEGORIES,
        form=form or {"day": "", "title": "", "category": "other", "summary": "", "url": ""},
        error=error,
        summary_max=settings().study.summary_max_chars,
    )


@bp.get("/branch/<int:branch_id>/study")
def study(branch_id: int) -> Any:
    year, month = _month()
    return _render(branch_id, year, month)


@bp.post("/branch/<int:branch_id>/study/topics")
def study_add(branch_id: int) -> Any:
    form = _form()
    try:
        topic = add_topic(user().member, branch_id, **_topic_fields(form))
    except (Invalid, Conflict) as exc:
        year, month = _month()
        return _render(branch_id, year, month, form=form, error=exc.message, status=400)
    return _to_month(branch_id, topic.day)


@bp.route("/branch/<int:branch_id>/study/topics/<int:topic_id>/edit", methods=["GET", "POST"])
def study_edit(branch_id: int, topic_id: int) -> Any:
    if request.method == "GET":
        return _edit_page(branch_id, topic_id)
    form = _form()
    try:
        topic = change_topic(user().member, topic_id, **_topic_fields(form))
    except (Invalid, Conflict) as exc:
        return _edit_page(branch_id, topic_id, form=form, error=exc.message, status=400)
    return _to_month(branch_id, topic.day)


def _edit_page(branch_id: int, topic_id: int, *, form=None, error="", status=200) -> Any:
    topic = topic_to_change(user().member, topic_id)
    values = form or {
        "day": topic.day.isoformat(),
        "title": topic.title,
        "category": topic.category,
        "summary": topic.content,
        "url": topic.url,
    }
    return page(
        "study_edit.html",
        status,
        branch_id=branch_id,
        topic=topic,
        form=values,
        error=error,
        categories=TOPIC_CATEGORIES,
        summary_max=settings().study.summary_max_chars,
    )


@bp.post("/branch/<int:branch_id>/study/topics/<int:topic_id>/delete")
def study_delete(branch_id: int, topic_id: int) -> Any:
    topic = remove_topic(user().member, topic_id, now=utcnow())
    return _to_month(branch_id, topic.day)
