"""Withdrawing the evening study nudge from a member who checked in before it went out."""

from __future__ import annotations

from datetime import date

from models.org import Member
from models.outbox import OutboxMessage
from models.prepared import execute


def cancel_nudge(member: Member, day: date) -> int:
    """A member who checks in before the nudge went out does not get it."""
    values = {"member": member.id, "period": day.isoformat()}
    return execute(
        "study_nudge_cancel",
        lambda v: OutboxMessage.update(status="skipped", last_error="已打卡，无需提醒").where(
            OutboxMessage.kind == "study_nudge",
            OutboxMessage.target_type == "member",
            OutboxMessage.target_id == v["member"],
            OutboxMessage.period == v["period"],
            OutboxMessage.status == "pending",
        ),
        values,
    ).rowcount
