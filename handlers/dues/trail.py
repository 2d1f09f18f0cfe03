"""Dues in the audit log: a manager's change of a member's dues, money in fen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.audit import record
from handlers.dues.money import fen_to_text
from handlers.dues.months import months_text
from models.org import Member


def record_dues(
    actor: Member | None,
    action: str,
    summary: str,
    member: Member,
    *,
    target: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a change of ``member``'s dues (``summary`` already names the member)."""
    record(
        actor,
        action,
        summary=summary,
        target=target,
        branch_id=member.branch_id,
        before=before,
        after=after,
        now=now,
    )


def amount_words(amount_fen: int, months: list[Any] | None = None) -> str:
    """An amount and the months it covers, as the summaries say it: 100.00元（2026年1-3月）."""
    text = fen_to_text(amount_fen)
    return f"{text}（{months_text(months)}）" if months else text
