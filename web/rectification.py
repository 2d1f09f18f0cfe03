"""The console's rectification pages: a branch's lists (filters, overdue items marked, the form
to raise one) and an item's page (its notes, a note, started or done, verification).

Each view calls the use case the bot and the mini-program call (handlers.rectification), or
the console's composition of them (handlers.console.rectification), and renders its answer;
a refusal of a form is shown by the form, with what was typed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import redirect, request, url_for

from core.clock import utcnow
from handlers import rectification as h
from handlers.console import rectification as cr
from handlers.errors import DomainError, Forbidden, Invalid, NotFound
from models.rectification import LIST_KINDS, SOURCES, STATUSES
from web.common import bp, nav_item, page, settings, user

nav_item(45, "整改清单", "console.rectification")

PER_PAGE = 50
FIELDS = ("kind", "source", "problem", "measure", "owner", "deadline")


def _by_form(exc: DomainError) -> str:
    """A refusal's message to show by the form; who may not see or do it gets the error page."""
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    return exc.message


def _to_item(branch_id: int, item_id: int) -> Any:
    return redirect(
        url_for("console.rectification_item", branch_id=branch_id, item_id=item_id), code=303
    )


def _filters() -> dict[str, Any]:
    args = request.args
    status = args.get("status") or None
    kind = args.get("kind") or None
    return {
        "status": status if status in STATUSES else None,
        "kind": kind if kind in LIST_KINDS else None,
        "overdue": True if args.get("overdue") == "1" else None,
    }


def _list(branch_id: int, *, values=None, error: str = "", status: int = 200) -> Any:
    filters = _filters()
    offset = max(request.args.get("offset", 0, type=int) or 0, 0)
    view = cr.list_page(
        user().member,
        branch_id,
        now=utcnow(),
        settings=settings(),
        limit=PER_PAGE,
        offset=offset,
        **filters,
    )
    limits = settings().rectification
    return page(
        "rectification.html",
        status,
        view=view,
        filters=filters,
        offset=offset,
        per_page=PER_PAGE,
        values=values or {"kind": "problem", "source": "self_check"},
        error=error,
        kinds=LIST_KINDS,
        sources=SOURCES,
        statuses=STATUSES,
        problem_max=limits.problem_max_chars,
        measure_max=limits.measure_max_chars,
    )


@bp.get("/branch/<int:branch_id>/rectification")
def rectification(branch_id: int) -> Any:
    return _list(branch_id)


def _owner(text: str) -> dict[str, Any]:
    """The owner choice "m:12" (a member) or "r:organizer" (a role) as the handler's fields."""
    kind, _, value = text.partition(":")
    if kind == "m" and value.isdigit():
        return {"owner_id": int(value)}
    if kind == "r" and value:
        return {"owner_role": value}
    return {}


def _deadline(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid("请选择截止日期（例如 2026-09-30）。") from None


@bp.post("/branch/<int:branch_id>/rectification")
def rectification_add(branch_id: int) -> Any:
    """Raise an item (the API's POST /rectifications)."""
    values = {k: (request.form.get(k) or "").strip() for k in FIELDS}
    try:
        view = h.create_item(
            user().member,
            branch_id,
            kind=values["kind"],
            source=values["source"],
            problem=values["problem"],
            measure=values["measure"],
            deadline=_deadline(values["deadline"]),
            now=utcnow(),
            settings=settings(),
            **_owner(values["owner"]),
        )
    except DomainError as exc:
        return _list(branch_id, values=values, error=_by_form(exc), status=400)
    return _to_item(branch_id, view.item.id)


def _item(branch_id: int, item_id: int, status: int = 200, **extra: Any) -> Any:
    screen = cr.item_page(user().member, branch_id, item_id, now=utcnow(), settings=settings())
    found = screen.detail
    item = found.view.item
    limits = settings().rectification
    edit = extra.pop("edit", None) or {
        "kind": item.kind,
        "source": item.source,
        "problem": item.problem,
        "measure": item.measure,
        "owner": f"m:{item.owner_id}" if item.owner_id else f"r:{item.owner_role}",
        "deadline": item.deadline.isoformat(),
    }
    return page(
        "rectification_item.html",
        status,
        found=found,
        view=found.view,
        item=item,
        errors=extra.pop("errors", {}),
        values=extra.pop("values", {}),
        note_max=limits.note_max_chars,
        edit=edit,
        members=screen.members,
        roles=screen.roles,
        kinds=LIST_KINDS,
        sources=SOURCES,
        problem_max=limits.problem_max_chars,
        measure_max=limits.measure_max_chars,
    )


@bp.get("/branch/<int:branch_id>/rectification/<int:item_id>")
def rectification_item(branch_id: int, item_id: int) -> Any:
    return _item(branch_id, item_id)


@bp.post("/branch/<int:branch_id>/rectification/<int:item_id>/edit")
def rectification_item_edit(branch_id: int, item_id: int) -> Any:
    """Change the item's fields (the API's PATCH /rectifications/<id>)."""
    values = {k: (request.form.get(k) or "").strip() for k in FIELDS}
    try:
        cr.item_page(user().member, branch_id, item_id, now=utcnow(), settings=settings())
        h.change_item(
            user().member,
            item_id,
            kind=values["kind"],
            source=values["source"],
            problem=values["problem"],
            measure=values["measure"],
            deadline=_deadline(values["deadline"]),
            now=utcnow(),
            settings=settings(),
            **_owner(values["owner"]),
        )
    except DomainError as exc:
        errors = {"edit": _by_form(exc)}
        return _item(branch_id, item_id, 400, errors=errors, edit=values)
    return _to_item(branch_id, item_id)


@bp.post("/branch/<int:branch_id>/rectification/<int:item_id>/notes")
def rectification_item_note(branch_id: int, item_id: int) -> Any:
    text = request.form.get("text", "")
    try:
        h.add_note(user().member, item_id, text, now=utcnow(), settings=settings())
    except DomainError as exc:
        errors = {"note": _by_form(exc)}
        return _item(branch_id, item_id, 400, errors=errors, values={"note": text})
    return _to_item(branch_id, item_id)


@bp.post("/branch/<int:branch_id>/rectification/<int:item_id>/status")
def rectification_item_status(branch_id: int, item_id: int) -> Any:
    """开始整改, or 标记完成 with what was done."""
    status, text = request.form.get("status", ""), request.form.get("text", "")
    try:
        h.move_status(user().member, item_id, status, text, now=utcnow(), settings=settings())
    except DomainError as exc:
        errors = {"status": _by_form(exc)}
        return _item(branch_id, item_id, 400, errors=errors, values={"done": text})
    return _to_item(branch_id, item_id)


@bp.post("/branch/<int:branch_id>/rectification/<int:item_id>/verification")
def rectification_item_verify(branch_id: int, item_id: int) -> Any:
    """验收通过, or 退回 with the reason."""
    approve = request.form.get("decision") == "approve"
    reason = request.form.get("reason", "")
    try:
        h.verify_item(user().member, item_id, approve, reason, now=utcnow(), settings=settings())
    except DomainError as exc:
        errors = {"verify": _by_form(exc)}
        return _item(branch_id, item_id, 400, errors=errors, values={"reason": reason})
    return _to_item(branch_id, item_id)
