"""/api/v1 routes: developing members (发展党员).

The managers of a branch (its secretary, deputy secretary or organizer; not a committee
admin, who sees counts per branch on the console) list the branch's pipeline, read one
person's record and record a step. A member reads their own record. A person of another
branch answers 404; a member of the branch without a manager's role gets 403.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from api.common import DEFAULT_LIMIT, body, bp, day_text, member, query, render_as, settings
from api.openapi import operation
from api.shapes import development as shapes
from core.clock import utcnow
from handlers import development as h

MEMBER = ("400", "401", "403")
WRITE = ("400", "401", "403", "409", "422")


def _person(view: h.PersonView) -> dict[str, Any]:
    m = view.member
    nxt, due = view.next, view.deadline
    return {
        "member": {"id": m.id, "name": m.name},
        "stage": m.status,
        "stage_label": view.stage_label,
        "next_step": {
            "step": nxt.step,
            "label": nxt.label,
            "earliest": day_text(nxt.earliest),
            "allowed_now": view.next_allowed,
        }
        if nxt is not None
        else None,
        "deadline": {
            "step": due.step,
            "label": due.label,
            "due": day_text(due.due),
            "days_left": view.days_left,
            "overdue": view.overdue,
        }
        if due is not None
        else None,
        "overdue": view.overdue,
    }


def _detail(found: h.Detail) -> dict[str, Any]:
    return {
        **_person(found.view),
        "steps": [{"step": s.step, "label": s.label, "on": day_text(s.on)} for s in found.steps],
        "reviews": [{"on": day_text(r.on), "note": r.note} for r in found.reviews],
        "contacts": [{"id": c.id, "name": c.name} for c in found.contacts],
        "probation_ends": day_text(found.probation_ends),
        "extension_months": found.extension_months,
        "extension_reason": found.extension_reason,
    }


@bp.get("/development")
@operation(
    "The branch's people in development (its managers), overdue ones first",
    {200: (shapes.DevelopmentPage, "The pipeline")},
    errors=MEMBER,
    query=shapes.DevelopmentListQuery,
    description="Each person's stage, next step (and its earliest day), the deadline owed "
    "(talk, review, 转正) and whether it passed. Filters: stage, overdue.",
)
def development_list() -> Response:
    args = query(shapes.DevelopmentListQuery)
    me = member()
    page = h.pipeline(
        me,
        args.pop("branch_id", None),
        now=utcnow(),
        settings=settings(),
        limit=args.pop("limit", DEFAULT_LIMIT),
        offset=args.pop("offset", 0),
        **args,
    )
    answer = {
        "items": [_person(v) for v in page.items],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "stages": page.stages,
        "overdue": page.overdue,
    }
    return render_as(shapes.DevelopmentPage, answer)


@bp.get("/development/<id:member_id>")
@operation(
    "One person's development record (the managers of their branch)",
    {200: (shapes.DevelopmentDetail, "The record")},
    errors=MEMBER,
)
def development_detail(member_id: int) -> Response:
    query()
    found = h.person_detail(member(), member_id, now=utcnow(), settings=settings())
    return render_as(shapes.DevelopmentDetail, _detail(found))


@bp.post("/development/<id:member_id>/steps")
@operation(
    "Record a step of a person's development; the status moves where the step does",
    {201: (shapes.DevelopmentDetail, "Recorded")},
    errors=WRITE,
    json=shapes.DevelopmentStepRequest,
    description="activist → 入党积极分子, candidate → 发展对象, admit → 预备党员 (入党日期), "
    "full → 正式党员 (转正日期). 422 out_of_order, wrong_stage, too_early (the message names "
    "the earliest day); 409 already_recorded.",
)
def development_step(member_id: int) -> tuple[Response, int]:
    data = body(shapes.DevelopmentStepRequest)
    found = h.record_step(
        member(),
        member_id,
        data["step"],
        on=data["on"],
        contact_ids=tuple(data.get("contact_ids") or ()),
        note=data.get("note") or "",
        months=data.get("months"),
        now=utcnow(),
        settings=settings(),
    )
    return render_as(shapes.DevelopmentDetail, _detail(found)), 201


@bp.get("/me/development")
@operation(
    "My own development record: stage, steps, next step (never anyone else's)",
    {200: (shapes.DevelopmentDetail, "My record")},
    errors=MEMBER,
    description="The reviews' days without their findings.",
)
def development_mine() -> Response:
    query()
    found = h.my_development(member(), now=utcnow(), settings=settings())
    return render_as(shapes.DevelopmentDetail, _detail(found))
