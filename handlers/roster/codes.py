"""Binding codes for roster members: who may get one, and issuing them.

One rule decides who may get a code (``refusal``): a member already bound to WeChat does not
(they unbind first to change accounts), nor does one whose party membership stopped, nor one
who left (handlers.membership). Both the
secretary's ``roster invite`` and the managers' API apply it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from peewee import Case, Expression, fn

from core.config import Settings
from handlers.audit import record
from handlers.binding import IssuedCode, issue_codes
from handlers.errors import Forbidden
from handlers.roster.access import not_found
from handlers.roster.lookups import resolve_branch, resolve_committee
from models.base import write_tx
from models.org import LEFT, Branch, Member, may_manage_binding
from models.wechat import WechatBinding

log = logging.getLogger(__name__)


# Why a member gets no binding code.
REFUSALS = {
    "already_bound": "已绑定微信，无需绑定码；如需更换微信，请先解除绑定。",
    "not_party_member": "已停止党籍，不发放绑定码。",
    "left": "已离开（转出、去世、出党或停止党籍），不发放绑定码。",
}


def has_binding() -> Expression:
    """True for a member with a WeChat binding (a correlated EXISTS on Member.id)."""
    return fn.EXISTS(
        WechatBinding.select(WechatBinding.id).where(WechatBinding.member == Member.id)
    )


def refusal() -> Expression:
    """Why a member may not get a binding code (a key of REFUSALS), or NULL if they may."""
    return Case(
        None,
        (
            (Member.status == LEFT, "left"),
            (has_binding(), "already_bound"),
            (Member.status == "out", "not_party_member"),
        ),
        None,
    )


def _issue(members: list[Member], settings: Settings, now: datetime) -> list[IssuedCode]:
    if not members:
        return []
    return issue_codes(
        members,
        secret_key=settings.app.secret_key,
        now=now,
        ttl_days=settings.binding.code_ttl_days,
        length=settings.binding.code_length,
    )


def _record_codes(actor: Member | None, issued: list[IssuedCode], now: datetime) -> None:
    """One audit entry per branch: whose codes were issued (never the codes)."""
    by_branch: dict[int, list[Member]] = {}
    for item in issued:
        by_branch.setdefault(item.member.branch_id, []).append(item.member)
    for branch_id, members in sorted(by_branch.items()):
        names = "、".join(m.name for m in members[:10])
        more = f"等 {len(members)} 人" if len(members) > 10 else f"共 {len(members)} 人"
        record(
            actor,
            "roster.codes",
            summary=f"生成绑定码：{names}{more}",
            target=f"branch:{branch_id}",
            branch_id=branch_id,
            after={"member_ids": [m.id for m in members]},
            now=now,
        )


def invite(
    branch_name: str | None = None,
    committee_name: str | None = None,
    *,
    settings: Settings,
    now: datetime,
    deliver: Callable[[list[IssuedCode]], None] | None = None,
) -> list[IssuedCode]:
    """Issue binding codes to roster members who may get one, optionally of one branch.

    `deliver` runs inside the transaction: if it raises (say the CSV cannot be written),
    no code is issued and earlier codes keep working.
    """
    with write_tx():
        committee = resolve_committee(committee_name)
        query = (
            Member.select(Member, Branch)
            .join(Branch)
            .where(refusal().is_null())
            .order_by(Branch.name, Member.id)
        )
        if branch_name is not None:
            query = query.where(Member.branch == resolve_branch(branch_name, committee).id)
        elif committee is not None:
            query = query.where(Branch.committee == committee.id)
        issued = _issue(list(query), settings, now)
        _record_codes(None, issued, now)
        if deliver is not None:
            deliver(issued)
    log.info(
        "issued %d binding codes (committee=%s, branch=%s)",
        len(issued),
        committee.id if committee else "all",
        branch_name or "all",
    )
    return issued


@dataclass(frozen=True)
class BranchCodes:
    issued: list[IssuedCode]
    refused: list[tuple[Member, str]]  # the member and the REFUSALS key


def _over_power(actor: Member, members: Iterable[Member]) -> None:
    """Refuse if a code would let the actor bind a second account as someone with more power."""
    over = [m.name for m in members if not may_manage_binding(actor, m)]
    if over:
        raise Forbidden(
            "不能为担任您所没有职务的人员签发绑定码："
            + "、".join(over)
            + "。请由党委管理员办理。",
            errcode="forbidden",
        )


def issue_branch_codes(
    actor: Member, branch: Branch, member_ids: list[int], *, settings: Settings, now: datetime
) -> BranchCodes:
    """Issue codes to these members of the branch, answering per member (issued or refused).

    A member id outside the branch refuses the whole request as not found: nothing is issued.
    """
    with write_tx():
        found = {
            m.id: m
            for m in Member.select(Member, refusal().alias("refusal")).where(
                Member.id.in_(member_ids), Member.branch == branch.id
            )
        }
        if len(found) != len(member_ids):
            raise not_found()
        members = [found[i] for i in member_ids]
        _over_power(actor, members)
        refused = [(m, m.refusal) for m in members if m.refusal is not None]
        issued = _issue([m for m in members if m.refusal is None], settings, now)
        _record_codes(actor, issued, now)
    log.info(
        "issued %d binding codes through the API for branch id=%s (%d refused)",
        len(issued),
        branch.id,
        len(refused),
    )
    return BranchCodes(issued, refused)
