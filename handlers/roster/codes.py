"""Binding codes for roster members: who may get one, and issuing them."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from handlers.binding import IssuedCode, issue_codes
from handlers.errors import DomainError
from models.base import write_tx
from models.org import Branch, Committee, Member
from models.wechat import WechatBinding

log = logging.getLogger(__name__)


def _resolve_committee(committee_name: str | None) -> Committee | None:
    if committee_name is None:
        return None
    committee = Committee.get_or_none(Committee.name == committee_name)
    if committee is None:
        names = "、".join(c.name for c in Committee.select().order_by(Committee.name)) or "（无）"
        raise DomainError(f"没有名为“{committee_name}”的党委。现有党委：{names}")
    return committee


def _resolve_branch(branch_name: str, committee: Committee | None) -> Branch:
    query = Branch.select(Branch, Committee).join(Committee).order_by(Branch.name)
    if committee is not None:
        query = query.where(Branch.committee == committee.id)
    branches = list(query)
    matches = [b for b in branches if b.name == branch_name.strip()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        if not branches:
            raise DomainError(f"没有名为“{branch_name}”的支部：还没有任何支部，请先导入名册。")
        names = "、".join(b.name for b in branches)
        raise DomainError(f"没有名为“{branch_name}”的支部。现有支部：{names}")
    committees = "、".join(b.committee.name for b in matches)
    raise DomainError(f"多个党委都有“{branch_name}”（{committees}），请指定党委。")


def invite(
    branch_name: str | None = None,
    committee_name: str | None = None,
    *,
    settings: dict[str, dict[str, Any]],
    now: datetime,
    deliver: Callable[[list[IssuedCode]], None] | None = None,
) -> list[IssuedCode]:
    """Issue binding codes to roster members without a WeChat binding, optionally one branch.

    `deliver` runs inside the transaction: if it raises (say the CSV cannot be written),
    no code is issued and earlier codes keep working.
    """
    with write_tx():
        committee = _resolve_committee(committee_name)
        query = (
            Member.select(Member, Branch)
            .join(Branch)
            .where(
                Member.status != "out",
                Member.id.not_in(WechatBinding.select(WechatBinding.member)),
            )
            .order_by(Branch.name, Member.id)
        )
        if branch_name is not None:
            query = query.where(Member.branch == _resolve_branch(branch_name, committee).id)
        elif committee is not None:
            query = query.where(Branch.committee == committee.id)
        members = list(query)
        issued: list[IssuedCode] = []
        if members:
            issued = issue_codes(
                members,
                secret_key=settings["app"]["secret_key"],
                now=now,
                ttl_days=settings["binding"]["code_ttl_days"],
                length=settings["binding"]["code_length"],
            )
        if deliver is not None:
            deliver(issued)
    log.info(
        "issued %d binding codes (committee=%s, branch=%s)",
        len(issued),
        committee.id if committee else "all",
        branch_name or "all",
    )
    return issued
