"""/api/v1 routes: rectification lists (整改清单).

Managers (the branch's secretary, deputy secretary or organizer; a committee admin for the
committee's branches, with ``branch_id``): a branch's items, filtered; raise, change, a note,
started or done; verification (the branch secretary; a committee admin for the items the
committee raised). Members: their own items (named, or by a role they hold) and marking one
done. Every write calls the handler the bot's 完成 and the console call.

An item of a branch the caller may not see answers 404; one of their own branch on a manager
route answers 403 to a plain member.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from api.common import DEFAULT_LIMIT, body, bp, day_text, iso, member, query, render_as, settings
from api.errors import ApiError
from api.openapi import operation
from api.shapes import rectification as shapes
from core.clock import utcnow
from handlers import rectification as h

MEMBER = ("400", "401", "403")
WRITE = ("400", "401", "403", "409", "422")


# ---- representations ------------------------------------------------------------------------


def _person(p: h.Person | None) -> dict[str, Any] | None:
    return {"id": p.id, "name": p.name} if p is not None else None


def _item(v: h.ItemView) -> dict[str, Any]:
    it = v.item
    role = it.owner_role or None
    return {
        "id": it.id,
        "number": it.number,
        "branch_id": it.branch_id,
        "kind": it.kind,
        "kind_label": it.kind_label,
        "source": it.source,
        "source_label": it.source_label,
        "problem": it.problem,
        "measure": it.measure,
        "owner": {
            "member": _person(v.owner_member),
            "role": role,
            "role_label": h.OWNER_ROLES.get(role) if role else None,
            "label": v.owner,
        },
        "deadline": day_text(it.deadline),
        "days_left": v.days_left,
        "overdue": v.overdue,
        "status": it.status,
        "status_label": it.status_label,
        "raised_by": it.raised_by,
        "created_at": iso(it.created_at),
        "done_at": iso(it.done_at),
        "verified_at": iso(it.verified_at),
        "verified_by": _person(v.verified_by),
    }


def _note(n: h.NoteView) -> dict[str, Any]:
    note = n.note
    return {
        "id": note.id,
        "item_id": note.item_id,
        "kind": note.kind,
        "kind_label": note.kind_label,
        "text": note.text,
        "at": iso(note.at),
        "author": _person(n.author),
    }


def _page(page: h.ItemPage) -> dict[str, Any]:
    return {
        "items": [_item(v) for v in page.items],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
    }


def _paging(args: dict[str, Any]) -> dict[str, int]:
    return {"limit": args.pop("limit", DEFAULT_LIMIT), "offset": args.pop("offset", 0)}


# ---- managers -------------------------------------------------------------------------------


@bp.get("/rectifications")
@operation(
    "A branch's rectification items (managers), open ones first",
    {200: (shapes.RectificationPage, "Items")},
    errors=MEMBER,
    query=shapes.RectificationListQuery,
    description="Filters: status, kind, overdue. Committee admins pass branch_id.",
)
def rectification_list() -> Response:
    """A branch's items, filtered by status, list kind and overdue."""
    args = query(shapes.RectificationListQuery)
    me = member()
    paging = _paging(args)
    page = h.branch_items(
        me,
        args.pop("branch_id", None),
        now=utcnow(),
        settings=settings(),
        **args,
        **paging,
    )
    return render_as(shapes.RectificationPage, _page(page))


@bp.post("/rectifications")
@operation(
    "Raise a rectification item (managers); it gets the branch's next number",
    {201: (shapes.Rectification, "Raised")},
    errors=WRITE,
    json=shapes.RectificationCreateRequest,
    description="A committee admin raises it for the committee: only committee admins change "
    "and verify it. An owner_id outside the branch answers 422 owner_not_in_branch.",
)
def rectification_create() -> tuple[Response, int]:
    data = body(shapes.RectificationCreateRequest)
    me = member()
    branch_id = data.pop("branch_id", None)
    view = h.create_item(me, branch_id, now=utcnow(), settings=settings(), **data)
    return render_as(shapes.Rectification, _item(view)), 201


@bp.get("/rectifications/<id:item_id>")
@operation(
    "A rectification item with its notes (managers and the item's owners)",
    {200: (shapes.RectificationDetail, "The item")},
    errors=MEMBER,
)
def rectification_detail(item_id: int) -> Response:
    query()
    me = member()
    found = h.item_detail(me, item_id, now=utcnow(), settings=settings())
    answer = {
        **_item(found.view),
        "notes": [_note(n) for n in found.notes],
        "can_change": found.can_change,
        "can_verify": found.can_verify,
        "is_owner": found.is_owner,
    }
    return render_as(shapes.RectificationDetail, answer)


@bp.patch("/rectifications/<id:item_id>")
@operation(
    "Change a rectification item (managers; the committee's items: committee admins)",
    {200: (shapes.Rectification, "Changed")},
    errors=WRITE,
    json=shapes.RectificationEditRequest,
    description="A verified item answers 409 already_verified.",
)
def rectification_edit(item_id: int) -> Response:
    data = body(shapes.RectificationEditRequest)
    if not data:
        raise ApiError(400, "missing_field", "请至少提供一个要修改的字段。")
    me = member()
    view = h.change_item(me, item_id, now=utcnow(), settings=settings(), **data)
    return render_as(shapes.Rectification, _item(view))


@bp.post("/rectifications/<id:item_id>/notes")
@operation(
    "Add a note on progress or evidence (managers and the item's owners)",
    {201: (shapes.RectificationNote, "Added")},
    errors=WRITE,
    json=shapes.RectificationNoteRequest,
)
def rectification_note(item_id: int) -> tuple[Response, int]:
    text = body(shapes.RectificationNoteRequest)["text"]
    me = member()
    note = h.add_note(me, item_id, text, now=utcnow(), settings=settings())
    return render_as(shapes.RectificationNote, _note(note)), 201


@bp.post("/rectifications/<id:item_id>/status")
@operation(
    "Move a rectification item on (managers): in_progress, or done with a note",
    {200: (shapes.Rectification, "Moved")},
    errors=WRITE,
    json=shapes.RectificationStatusRequest,
    description="409: already_started, already_done, already_verified.",
)
def rectification_status(item_id: int) -> Response:
    data = body(shapes.RectificationStatusRequest)
    me = member()
    view = h.move_status(
        me, item_id, data["status"], data.get("note", ""), now=utcnow(), settings=settings()
    )
    return render_as(shapes.Rectification, _item(view))


@bp.post("/rectifications/<id:item_id>/verification")
@operation(
    "Verify a done item, or send it back to in_progress with a reason",
    {200: (shapes.Rectification, "Verified or sent back")},
    errors=WRITE,
    json=shapes.RectificationVerifyRequest,
    description="The branch secretary verifies the branch's items; a committee admin the "
    "committee's (and the branch's). 422 not_done before the owner marked it done; 409 "
    "already_verified.",
)
def rectification_verify(item_id: int) -> Response:
    data = body(shapes.RectificationVerifyRequest)
    me = member()
    view = h.verify_item(
        me,
        item_id,
        data["approve"],
        data.get("reason", ""),
        now=utcnow(),
        settings=settings(),
    )
    return render_as(shapes.Rectification, _item(view))


# ---- members --------------------------------------------------------------------------------


@bp.get("/me/rectifications")
@operation(
    "My rectification items: named as owner, or through a role I hold",
    {200: (shapes.RectificationPage, "My items")},
    errors=MEMBER,
    query=shapes.RectificationMineQuery,
)
def rectification_mine() -> Response:
    """The items the caller owns (清单 in the bot), open ones first."""
    args = query(shapes.RectificationMineQuery)
    me = member()
    paging = _paging(args)
    page = h.my_items(me, now=utcnow(), settings=settings(), **args, **paging)
    return render_as(shapes.RectificationPage, _page(page))


@bp.post("/me/rectifications/<id:item_id>/done")
@operation(
    "Mark my rectification item done, saying what was done (its owner only)",
    {200: (shapes.Rectification, "Done; waiting for verification")},
    errors=WRITE,
    json=shapes.RectificationDoneRequest,
    description="403 not_owner for an item of my branch someone else owns; 409 already_done, "
    "already_verified.",
)
def rectification_done(item_id: int) -> Response:
    """Mark an item done (完成 编号 说明 in the bot)."""
    note = body(shapes.RectificationDoneRequest)["note"]
    me = member()
    view = h.mark_done(me, item_id, note, now=utcnow(), settings=settings())
    return render_as(shapes.Rectification, _item(view))
