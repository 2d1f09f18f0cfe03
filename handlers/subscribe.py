"""A member's subscribe-message credits: what their mini-program reports accepting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from handlers.binding import touch
from handlers.outbox import add_subscribe_credits
from models.base import write_tx
from models.org import Member
from models.outbox import SubscribeCredit


@dataclass(frozen=True)
class SubscribeReport:
    recorded: int  # 1 if the reminder template was among those accepted, else 0
    credits: int  # the account's credits for the reminder template now


def credits_of(openid: str, template_id: str) -> int:
    """The account's remaining credits for the template (0 without a template)."""
    if not template_id:
        return 0
    row = SubscribeCredit.get_or_none(
        SubscribeCredit.openid == openid, SubscribeCredit.template_id == template_id
    )
    return row.credits if row else 0


def report_accepted(
    member: Member, openid: str, template_id: str, accepted: list[str], now: datetime
) -> SubscribeReport:
    """Count one credit if the reminder template (``template_id``, may be empty) was accepted.

    One wx.requestSubscribeMessage call accepts a template at most once, so one report adds at
    most one credit; the member's activity is noted in the same transaction.
    """
    recorded = 1 if template_id and template_id in accepted else 0
    with write_tx():
        credits = (
            add_subscribe_credits(openid, template_id, now)
            if recorded
            else credits_of(openid, template_id)
        )
        touch(member, now)
    return SubscribeReport(recorded, credits)
