"""Shapes of the membership routes (api/membership.py): a member leaves (离开), moves to
another branch of the deployment (转接组织关系), or comes back after a transfer out (转回)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import Answer, Count, Day, DayText, Id, OneLine, Request, TimeText
from api.shapes.branch import BranchMemberRef
from api.shapes.v1 import Branch
from models.membership import REASONS
from models.org import PARTY_MEMBER_STATUSES

ReasonCode = Literal[tuple(REASONS)]  # type: ignore[valid-type]
REASON_TEXT = (
    "transfer_out 转出 (out of this deployment), died 去世, expelled 出党, stopped 停止党籍"
)


# ---- requests --------------------------------------------------------------------------------


class LeaveRequest(Request):
    reason: OneLine(16, choices=tuple(REASONS)) = Constraint(description=REASON_TEXT)
    left_on: Day = Constraint(
        description="The day they left: today or earlier, within roster.backdate_days"
    )


class TransferRequest(Request):
    to_branch_id: Id = Constraint(description="A branch of the caller's committee")
    moved_on: Day = Constraint(
        description="The day of the transfer: today or earlier, within roster.backdate_days"
    )


class ReturnRequest(Request):
    phone: OneLine(20) = Constraint(
        description="The mobile number they use now (the old one was removed when they left)"
    )
    returned_on: Day = Constraint(
        description="The day they came back: not before they left, today or earlier, within "
        "roster.backdate_days"
    )
    status: OneLine(16, choices=PARTY_MEMBER_STATUSES) = Constraint(
        default="full",
        description="Their party status now: full 正式党员 or probationary 预备党员",
    )
    to_branch_id: Id | None = Constraint(
        default=None,
        description="A branch of the caller's committee (default: the branch they left)",
    )


# ---- answers ---------------------------------------------------------------------------------


class LeaveResponse(Answer):
    """What leaving ended: the member's access, contact data and reflections, their place at
    meetings ahead and messages not sent yet. Their records stay under their name."""

    member: BranchMemberRef
    branch: Branch = Constraint(description="The branch they left")
    reason: ReasonCode
    reason_label: str
    left_on: DayText
    recorded_at: TimeText
    bindings_removed: Count
    sessions_ended: Count
    messages_cancelled: Count
    meetings_withdrawn: Count


class TransferResponse(Answer):
    member: BranchMemberRef
    from_branch: Branch
    to_branch: Branch
    moved_on: DayText
    recorded_at: TimeText
    source: Literal["manual"]


class ReturnResponse(Answer):
    """The member on the roll again, with the departure the return undid. They bind WeChat
    again with a new binding code."""

    member: BranchMemberRef
    status: Literal[PARTY_MEMBER_STATUSES]  # type: ignore[valid-type]
    status_label: str
    left_branch: Branch = Constraint(description="The branch they had left")
    left_on: DayText
    to_branch: Branch
    returned_on: DayText
    recorded_at: TimeText
    meetings_joined: Count = Constraint(description="Meetings ahead that now expect them")
