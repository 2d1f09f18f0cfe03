"""Ending a member's sessions: the mini-program API's, and the web console's."""

from __future__ import annotations

from datetime import datetime

from models.api import ApiSession
from models.base import write_tx
from models.console import ConsoleSession
from models.wechat import WechatBinding


def revoke_member_sessions(member_id: int, now: datetime) -> int:
    """End every live API session of a member (e.g. when a secretary unbinds them).

    Covers sessions recorded for the member and those of any account bound to them; a revoked
    token answers 401 token_revoked from then on. Returns how many sessions were ended.
    """
    openids = WechatBinding.select(WechatBinding.openid).where(WechatBinding.member == member_id)
    with write_tx():
        return (
            ApiSession.update(revoked_at=now)
            .where(
                (ApiSession.member == member_id) | (ApiSession.openid.in_(openids)),
                ApiSession.revoked_at.is_null(),
            )
            .execute()
        )


def end_console_sessions(member_id: int, now: datetime, reason: str) -> int:
    """End every console session of a member (inside the caller's transaction, if any)."""
    return (
        ConsoleSession.update(ended_at=now, end_reason=reason)
        .where(ConsoleSession.member == member_id, ConsoleSession.ended_at.is_null())
        .execute()
    )
