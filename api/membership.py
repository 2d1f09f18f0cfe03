"""/api/v1 routes for committee admins: a member of the committee leaves (离开: 转出, 去世,
出党, 停止党籍), moves to another branch of the committee (转接组织关系), or comes back after a
transfer out (转回).

Each calls the use case the command line (``member leave``, ``member transfer``, ``member
return``) and the console call (handlers.membership). Anyone but a committee admin gets
403; a member of another committee, or a branch outside it, 404; a member who left already,
409 already_left.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from api.branch_json import member_ref
from api.common import body, bp, day_text, iso, member, render_as, settings
from api.openapi import operation
from api.shapes import membership as shapes
from core.clock import utcnow
from handlers.membership import leave_member, return_member, transfer_member
from models.org import Branch, Member

WRITE = ("400", "401", "403", "404", "409", "422")


def _ref(row: Member | Branch) -> dict[str, Any]:
    return member_ref(row.id, row.name)


@bp.post("/branch/members/<id:member_id>/leave")
@operation(
    "Committee admins: record that a member left (转出, 去世, 出党, 停止党籍)",
    {200: (shapes.LeaveResponse, "Recorded; what ended with it")},
    errors=WRITE,
    json=shapes.LeaveRequest,
    description="In one transaction: the departure is recorded, the member's status becomes "
    "left, their WeChat bindings, binding codes, sessions and download links end, their mobile "
    "number, birth date and reflections are removed, and no reminder names them any more. "
    "Dues, attendance and leave records stay. A second time answers 409 already_left.",
)
def member_leave(member_id: int) -> Response:
    data = body(shapes.LeaveRequest)
    done = leave_member(
        member(),
        member_id,
        reason=data["reason"],
        left_on=data["left_on"],
        now=utcnow(),
        settings=settings(),
    )
    gone = done.departure
    return render_as(
        shapes.LeaveResponse,
        {
            "member": _ref(done.member),
            "branch": _ref(done.branch),
            "reason": gone.reason,
            "reason_label": gone.reason_label,
            "left_on": day_text(gone.left_on),
            "recorded_at": iso(gone.recorded_at),
            "bindings_removed": done.bindings,
            "sessions_ended": done.sessions,
            "messages_cancelled": done.messages,
            "meetings_withdrawn": done.meetings,
        },
    )


@bp.post("/branch/members/<id:member_id>/transfer")
@operation(
    "Committee admins: move a member to another branch of the committee (转接组织关系)",
    {200: (shapes.TransferResponse, "Moved; the transfer recorded")},
    errors=WRITE,
    json=shapes.TransferRequest,
    description="The member's records go with them; the party group and the branch's offices "
    "stay behind. Out of this deployment: leave with the reason transfer_out.",
)
def member_transfer(member_id: int) -> Response:
    data = body(shapes.TransferRequest)
    done = transfer_member(
        member(),
        member_id,
        to_branch_id=data["to_branch_id"],
        moved_on=data["moved_on"],
        now=utcnow(),
        settings=settings(),
    )
    move = done.transfer
    return render_as(
        shapes.TransferResponse,
        {
            "member": _ref(done.member),
            "from_branch": _ref(done.from_branch),
            "to_branch": _ref(done.to_branch),
            "moved_on": day_text(move.moved_on),
            "recorded_at": iso(move.recorded_at),
            "source": "manual",
        },
    )


@bp.post("/branch/members/<id:member_id>/return")
@operation(
    "Committee admins: bring back a member who transferred out (转回)",
    {200: (shapes.ReturnResponse, "On the roll again; the return recorded")},
    errors=WRITE,
    json=shapes.ReturnRequest,
    description="Only a departure with the reason transfer_out comes back (422 cannot_return "
    "otherwise); a member on the roll answers 409 not_left, a number someone has 409 "
    "phone_taken. The member keeps their records; the departure is kept in their history. "
    "What leaving removed (reflections, birth date, WeChat binding) stays removed.",
)
def member_return(member_id: int) -> Response:
    data = body(shapes.ReturnRequest)
    done = return_member(
        member(),
        member_id,
        phone=data["phone"],
        returned_on=data["returned_on"],
        status=data.get("status") or "full",
        to_branch_id=data.get("to_branch_id"),
        now=utcnow(),
        settings=settings(),
    )
    back = done.returned
    return render_as(
        shapes.ReturnResponse,
        {
            "member": _ref(done.member),
            "status": done.member.status,
            "status_label": done.member.status_label,
            "left_branch": _ref(done.left_branch),
            "left_on": day_text(back.left_on),
            "to_branch": _ref(done.to_branch),
            "returned_on": day_text(back.returned_on),
            "recorded_at": iso(back.recorded_at),
            "meetings_joined": done.meetings,
        },
    )
