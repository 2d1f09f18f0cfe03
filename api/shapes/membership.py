"""Shapes of the membership routes (api/membership.py): a member leaves (离开), or moves to
another branch of the deployment (转接组织关系)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import Answer, Count, Day, DayText, Id, OneLine, Request, TimeText
from api.shapes.branch import BranchMemberRef
from api.shapes.v1 import Branch
from models.membership import REASONS

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
