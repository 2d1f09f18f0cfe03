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
from models.development import STEPS

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


# A step named in the path: any text reaches the view, so a caller without a token is told 401
# before an unknown step is refused (400, naming the steps).
STEP_PATH = "/development/<id:member_id>/steps/<step>"
STEP_CODES = "step: one of " + ", ".join(STEPS) + ". "


@bp.patch(STEP_PATH)
@operation(
    "Correct a recorded step: its day, contacts, findings or extension (the managers of the "
    "person's branch)",
    {200: (shapes.DevelopmentDetail, "Corrected")},
    errors=WRITE,
    json=shapes.DevelopmentCorrectionRequest,
    description=STEP_CODES
    + "Checked as recording is: 400 future_day, 422 out_of_order and too_early (the "
    "message names the day allowed), 409 already_recorded (another review that day), 422 "
    "not_recorded (nothing to correct). A review is named by review_on. 入党日期 and 转正日期 "
    "follow the day of the step that set them.",
)
def development_correct(member_id: int, step: str) -> Response:
    data = body(shapes.DevelopmentCorrectionRequest)
    review_on = data.pop("review_on", None)
    ids = data.pop("contact_ids", None)
    correction = h.Correction(contact_ids=tuple(ids) if ids else None, **data)
    found = h.correct_step(
        member(),
        member_id,
        step,
        correction,
        review_on=review_on,
        now=utcnow(),
        settings=settings(),
    )
    return render_as(shapes.DevelopmentDetail, _detail(found))


@bp.delete(STEP_PATH)
@operation(
    "Remove the person's latest recorded step, with the reason (the managers of their branch)",
    {200: (shapes.DevelopmentDetail, "Removed; the status moved back where the step moved it")},
    errors=WRITE,
    json=shapes.DevelopmentRemovalRequest,
    description=STEP_CODES
    + "Only the latest step (the latest day; of equal days the later step): 409 "
    "not_latest names it. Removing 确定为入党积极分子, 确定为发展对象, 接收为预备党员 or "
    "转为正式党员 moves the status back (and clears 入党日期 or 转正日期 it set); 422 "
    "wrong_stage when the status no longer is the one the step set, not_recorded when the "
    "step was never recorded.",
)
def development_remove(member_id: int, step: str) -> Response:
    data = body(shapes.DevelopmentRemovalRequest)
    found = h.remove_step(
        member(), member_id, step, reason=data["reason"], now=utcnow(), settings=settings()
    )
    return render_as(shapes.DevelopmentDetail, _detail(found))


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
