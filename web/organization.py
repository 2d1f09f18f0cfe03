"""The console's organization pages: the branch committee's term (换届) with the form to
record an election, and the members flagged as lost contact (失联党员) with the form to
record a follow-up's outcome.

Each view calls the use case the mini-program calls (handlers.organization) and renders its
answer; a refusal of a form is shown by the form, with what was typed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import redirect, request, url_for

from core.clock import utcnow
from handlers import organization as h
from handlers.errors import DomainError, Forbidden, Invalid, NotFound
from models.organization import OUTCOMES
from web.common import bp, nav_item, page, settings, user

nav_item(48, "失联党员", "console.contact")

PER_PAGE = 50
OUTCOME_FIELDS = ("member_id", "outcome", "happened_on", "place", "note")


def _by_form(exc: DomainError) -> str:
    """A refusal's message to show by the form; who may not see or do it gets the error page."""
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    return exc.message


def _day(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"请选择{label}（例如 2026-09-01）。") from None


# ---- the committee's term ---------------------------------------------------------------------


def _term_page(branch_id: int, *, values=None, error: str = "", status: int = 200) -> Any:
    found = h.branch_term(user().member, branch_id, now=utcnow(), settings=settings())
    cfg = settings().terms
    return page(
        "term.html",
        status,
        found=found,
        values=values or {},
        error=error,
        default_years=cfg.years,
        max_years=cfg.max_years,
        note_max=cfg.note_max_chars,
    )


@bp.get("/branch/<int:branch_id>/term")
def term(branch_id: int) -> Any:
    return _term_page(branch_id)


@bp.post("/branch/<int:branch_id>/term")
def term_record(branch_id: int) -> Any:
    """Record an election (the API's POST /branch/term)."""
    values = {k: (request.form.get(k) or "").strip() for k in ("started_on", "years", "note")}
    try:
        years = values["years"]
        if years and not years.isdigit():
            raise Invalid("任期年限请填写整数年，例如 5。")
        h.record_term(
            user().member,
            branch_id,
            started_on=_day(values["started_on"], "新一届任期的开始日期"),
            years=int(years) if years else None,
            note=values["note"],
            now=utcnow(),
            settings=settings(),
        )
    except DomainError as exc:
        return _term_page(branch_id, values=values, error=_by_form(exc), status=400)
    return redirect(url_for("console.branch", branch_id=branch_id) + "#term", code=303)


# ---- lost contact -----------------------------------------------------------------------------


def _contact_page(branch_id: int, *, values=None, error: str = "", status: int = 200) -> Any:
    offset = max(request.args.get("offset", 0, type=int) or 0, 0)
    found = h.branch_cases(
        user().member,
        branch_id,
        now=utcnow(),
        settings=settings(),
        limit=PER_PAGE,
        offset=offset,
    )
    cfg = settings().lost_contact
    return page(
        "contact.html",
        status,
        found=found,
        offset=offset,
        per_page=PER_PAGE,
        outcomes=OUTCOMES,
        values=values or {"outcome": "reached"},
        error=error,
        place_max=cfg.place_max_chars,
        note_max=cfg.note_max_chars,
    )


@bp.get("/branch/<int:branch_id>/contact")
def contact(branch_id: int) -> Any:
    return _contact_page(branch_id)


@bp.post("/branch/<int:branch_id>/contact")
def contact_record(branch_id: int) -> Any:
    """Record a follow-up's outcome (the API's POST /branch/lost-contact/{id}/outcomes)."""
    values = {k: (request.form.get(k) or "").strip() for k in OUTCOME_FIELDS}
    try:
        if not values["member_id"].isdigit():
            raise Invalid("请选择要登记的失联党员。")
        h.record_outcome(
            user().member,
            int(values["member_id"]),
            outcome=values["outcome"],
            happened_on=_day(values["happened_on"], "联系结果的日期"),
            place=values["place"],
            note=values["note"],
            now=utcnow(),
            settings=settings(),
        )
    except DomainError as exc:
        return _contact_page(branch_id, values=values, error=_by_form(exc), status=400)
    return redirect(url_for("console.contact", branch_id=branch_id), code=303)
