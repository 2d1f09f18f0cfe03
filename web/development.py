"""The console's development pages (发展党员): a branch's pipeline by stage with each person's
next step and deadline (overdue ones marked), a person's record, and the form to record a step.

Each view calls the use case the mini-program calls (handlers.development), or the console's
composition of them (handlers.console.development), and renders its answer; a refused form is
shown with its message and what was typed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import redirect, request, url_for

from core.clock import utcnow
from handlers import development as h
from handlers.console import development as cd
from handlers.errors import DomainError, Forbidden, Invalid, NotFound
from models.development import STEPS
from models.org import STATUSES
from web.common import bp, nav_item, page, settings, user

nav_item(
    47, "发展党员", "console.development", lambda me, branch_id: h.manages(me.member, branch_id)
)

FIELDS = ("member_id", "step", "on", "contact_1", "contact_2", "months", "note")
STAGE_LABELS = {s: STATUSES[s] for s in h.PIPELINE}


def _by_form(exc: DomainError) -> str:
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    return exc.message


def _values() -> dict[str, str]:
    return {k: (request.form.get(k) or "").strip() for k in FIELDS}


def _list(branch_id: int, *, values=None, error: str = "", status: int = 200) -> Any:
    args = request.args
    stage = args.get("stage") if args.get("stage") in STAGE_LABELS else None
    overdue = True if args.get("overdue") == "1" else None
    view = cd.list_page(
        user().member, branch_id, stage=stage, overdue=overdue, now=utcnow(), settings=settings()
    )
    return page(
        "development.html",
        status,
        view=view,
        p=view.page,
        filters={"stage": stage, "overdue": overdue},
        stages=STAGE_LABELS,
        steps=STEPS,
        values=values or {},
        error=error,
        note_max=settings().development.note_max_chars,
    )


@bp.get("/branch/<int:branch_id>/development")
def development(branch_id: int) -> Any:
    return _list(branch_id)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("请选择日期（例如 2026-09-01）。") from None


def _number(text: str, what: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise Invalid(f"{what}应为整数。")
    return int(text)


def _record(values: dict[str, str]) -> h.Detail:
    member_id = _number(values["member_id"], "人员")
    if member_id is None:
        raise Invalid("请选择要登记的人员。")
    contacts = [_number(values[k], "培养联系人") for k in ("contact_1", "contact_2")]
    return h.record_step(
        user().member,
        member_id,
        values["step"],
        on=_day(values["on"]),
        contact_ids=tuple(c for c in contacts if c is not None),
        note=values["note"],
        months=_number(values["months"], "延长月数"),
        now=utcnow(),
        settings=settings(),
    )


def _to_person(branch_id: int, member_id: int) -> Any:
    return redirect(
        url_for("console.development_person", branch_id=branch_id, member_id=member_id), code=303
    )


@bp.post("/branch/<int:branch_id>/development")
def development_record(branch_id: int) -> Any:
    """Record a step (the API's POST /development/{id}/steps)."""
    values = _values()
    try:
        found = _record(values)
    except DomainError as exc:
        return _list(branch_id, values=values, error=_by_form(exc), status=400)
    return _to_person(branch_id, found.view.member.id)


def _person(
    branch_id: int, member_id: int, *, values=None, error="", status=200, form="record"
) -> Any:
    found = cd.person_page(user().member, branch_id, member_id, now=utcnow(), settings=settings())
    return page(
        "development_person.html",
        status,
        found=found,
        d=found.detail,
        v=found.detail.view,
        steps=STEPS,
        values=values or {},
        error=error,
        form=form,
        note_max=settings().development.note_max_chars,
    )


@bp.get("/branch/<int:branch_id>/development/<int:member_id>")
def development_person(branch_id: int, member_id: int) -> Any:
    return _person(branch_id, member_id)


@bp.post("/branch/<int:branch_id>/development/<int:member_id>")
def development_person_record(branch_id: int, member_id: int) -> Any:
    values = {**_values(), "member_id": str(member_id)}
    try:
        cd.person_check(user().member, branch_id, member_id)
        _record(values)
    except DomainError as exc:
        return _person(branch_id, member_id, values=values, error=_by_form(exc), status=400)
    return _to_person(branch_id, member_id)


CORRECT_FIELDS = ("target", "on", "contact_1", "contact_2", "months", "note")


def _correct(member_id: int, values: dict[str, str]) -> None:
    """A correction (the API's PATCH …/steps/{step}); an empty field is left as recorded."""
    step, _, review = values["target"].partition(":")
    contacts = [_number(values[k], "培养联系人") for k in ("contact_1", "contact_2")]
    chosen = tuple(c for c in contacts if c is not None)
    correction = h.Correction(
        on=_day(values["on"]) if values["on"] else None,
        contact_ids=chosen or None,
        note=values["note"] or None,
        months=_number(values["months"], "延长月数"),
    )
    h.correct_step(
        user().member,
        member_id,
        step,
        correction,
        review_on=_day(review) if review else None,
        now=utcnow(),
        settings=settings(),
    )


@bp.post("/branch/<int:branch_id>/development/<int:member_id>/correct")
def development_correct(branch_id: int, member_id: int) -> Any:
    """Correct a recorded step's day, contacts, findings or extension."""
    values = {k: (request.form.get(k) or "").strip() for k in CORRECT_FIELDS}
    try:
        cd.person_check(user().member, branch_id, member_id)
        _correct(member_id, values)
    except DomainError as exc:
        error = _by_form(exc)
        return _person(branch_id, member_id, values=values, error=error, status=400, form="fix")
    return _to_person(branch_id, member_id)


@bp.post("/branch/<int:branch_id>/development/<int:member_id>/remove")
def development_remove(branch_id: int, member_id: int) -> Any:
    """Remove the latest recorded step with the reason; its status moves back."""
    values = {k: (request.form.get(k) or "").strip() for k in ("step", "reason")}
    try:
        cd.person_check(user().member, branch_id, member_id)
        h.remove_step(
            user().member,
            member_id,
            values["step"],
            reason=values["reason"],
            now=utcnow(),
            settings=settings(),
        )
    except DomainError as exc:
        error = _by_form(exc)
        return _person(branch_id, member_id, values=values, error=error, status=400, form="remove")
    return _to_person(branch_id, member_id)
