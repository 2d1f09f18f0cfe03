"""The console's volunteer-service and 学时 pages: a branch's entries to confirm or send back,
each party member's 学时 with the form to record a training, and the committee page's people
in figures (loaded on its own, so the comparison stays quick).

Each view calls the use case the bot and the mini-program call (handlers.volunteer,
handlers.training) and renders its answer; a refusal of a form is shown by the form.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import redirect, request, url_for

from core.clock import utcnow
from handlers import training as t
from handlers import volunteer as v
from handlers.console.committee import committee_people_page
from handlers.errors import DomainError, Forbidden, Invalid, NotFound
from models.volunteer import STATUSES
from web.common import bp, nav_item, page, settings, user

nav_item(47, "志愿服务", "console.volunteer")
nav_item(48, "学时", "console.training")

PER_PAGE = 50
MAX_MEMBERS = 1000  # a branch's party members on the 学时 page


def _by_form(exc: DomainError) -> str:
    """A refusal's message to show by the form; who may not see or do it gets the error page."""
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    return exc.message


def _entries(branch_id: int, *, errors: dict[int, str] | None = None, status: int = 200) -> Any:
    wanted = request.args.get("status") or None
    wanted = wanted if wanted in STATUSES else None
    offset = max(request.args.get("offset", 0, type=int) or 0, 0)
    view = v.branch_entries(user().member, branch_id, status=wanted, limit=PER_PAGE, offset=offset)
    return page(
        "volunteer.html",
        status,
        view=view,
        statuses=STATUSES,
        wanted=wanted,
        offset=offset,
        per_page=PER_PAGE,
        errors=errors or {},
        hours_text=v.hours_text,
        reason_max=settings().volunteer.reason_max_chars,
    )


@bp.get("/branch/<int:branch_id>/volunteer")
def volunteer(branch_id: int) -> Any:
    return _entries(branch_id)


def _back(branch_id: int) -> Any:
    return redirect(url_for("console.volunteer", branch_id=branch_id, status="pending"), code=303)


@bp.post("/branch/<int:branch_id>/volunteer/<int:entry_id>/confirm")
def volunteer_confirm(branch_id: int, entry_id: int) -> Any:
    try:
        v.confirm_entry(
            user().member, entry_id, branch_id=branch_id, now=utcnow(), settings=settings()
        )
    except DomainError as exc:
        return _entries(branch_id, errors={entry_id: _by_form(exc)}, status=400)
    return _back(branch_id)


@bp.post("/branch/<int:branch_id>/volunteer/<int:entry_id>/reject")
def volunteer_reject(branch_id: int, entry_id: int) -> Any:
    reason = request.form.get("reason", "")
    try:
        v.reject_entry(
            user().member,
            entry_id,
            reason,
            branch_id=branch_id,
            now=utcnow(),
            settings=settings(),
        )
    except DomainError as exc:
        return _entries(branch_id, errors={entry_id: _by_form(exc)}, status=400)
    return _back(branch_id)


def _training(branch_id: int, *, values=None, error: str = "", status: int = 200) -> Any:
    view = t.branch_training(
        user().member, branch_id, now=utcnow(), settings=settings(), limit=MAX_MEMBERS, offset=0
    )
    return page(
        "training.html",
        status,
        view=view,
        values=values or {"member_ids": []},
        error=error,
        title_max=settings().training.title_max_chars,
    )


@bp.get("/branch/<int:branch_id>/training")
def training(branch_id: int) -> Any:
    return _training(branch_id)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("请选择培训日期（例如 2026-10-15）。") from None


@bp.post("/branch/<int:branch_id>/training")
def training_add(branch_id: int) -> Any:
    """Record a training for the members ticked (the API's POST /training)."""
    form = request.form
    ids = [int(x) for x in form.getlist("member_ids") if x.isdigit() and len(x) < 10]
    values = {k: (form.get(k) or "").strip() for k in ("title", "day", "hours")}
    values["member_ids"] = ids
    try:
        t.add_training(
            user().member,
            branch_id,
            member_ids=ids,
            title=values["title"],
            day=_day(values["day"]),
            minutes=v.parse_minutes(values["hours"]),
            now=utcnow(),
            settings=settings(),
        )
    except DomainError as exc:
        return _training(branch_id, values=values, error=_by_form(exc), status=400)
    return redirect(url_for("console.training", branch_id=branch_id), code=303)


@bp.get("/committee/people")
def committee_people() -> Any:
    """Each branch's 学时, age structure, admissions and volunteer month (htmx: the table)."""
    view = committee_people_page(user().member, now=utcnow(), settings=settings())
    template = (
        "committee_people_rows.html"
        if request.headers.get("HX-Request")
        else "committee_people.html"
    )
    return page(template, view=view)
