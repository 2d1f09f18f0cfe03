"""Who may do what with a branch's dues, and finding a branch member by name or phone."""

from __future__ import annotations

import difflib
import unicodedata

from handlers.errors import DomainError, Forbidden
from handlers.sheets import (
    normalize_phone,
)
from models.org import LEFT, Branch, Member, acts_for

# Who records payments, bases and relief for a branch (a committee admin for its branches).
DUES_ROLES = ("secretary", "dues_collector")


PAY_EXAMPLE = "收党费 张三 300.00 2026年1-3月"
SET_EXAMPLE = "党费 设置 张三 在职 8000.00 2026年1月"


def can_collect(actor: Member | None, branch: Branch) -> bool:
    """The branch's secretary or dues collector; a committee admin for the committee's branches."""
    return acts_for(actor, branch, DUES_ROLES)


def require_collector(actor: Member | None, branch: Branch) -> None:
    if can_collect(actor, branch):
        return
    assert actor is not None
    if actor.has_role(*DUES_ROLES):
        raise Forbidden(
            f"您只能办理本支部的党费，{branch.name}的党费请由该支部办理。",
            errcode="forbidden",
        )
    raise Forbidden(
        "只有支部书记或党费收缴员可以登记和查看支部党费。",
        errcode="forbidden",
        chat_hint="如您已交党费，请发送“交党费 金额”报告，例如：交党费 30.00，由收缴员确认。",
    )


def find_member(branch: Branch, who: str, example: str) -> Member:
    """Find a branch member by name or mobile number; suggest close names when there is none."""
    who = unicodedata.normalize("NFKC", who).strip()
    if not who:
        raise DomainError(f"请写明党员姓名，例如：{example}")
    phone = normalize_phone(who)
    if phone.isdigit() and len(phone) == 11:
        found = Member.get_or_none((Member.branch == branch.id) & (Member.phone == phone))
        if found is None:
            raise DomainError(f"{branch.name}没有手机号为 {phone} 的党员，请核对。")
        return found
    members = list(
        Member.select()
        .where(Member.branch == branch.id, Member.status != LEFT)
        .order_by(Member.id)
    )
    matches = [m for m in members if m.name == who]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DomainError(
            f"{branch.name}有 {len(matches)} 位“{who}”，请改用手机号指明是哪一位，"
            f"例如：{example.replace('张三', '13800000001', 1)}"
        )
    names = list(dict.fromkeys(m.name for m in members))
    close = difflib.get_close_matches(who, names, n=3, cutoff=0.4)
    if close:
        raise DomainError(
            f"{branch.name}没有名为“{who}”的党员。您是不是要找：{'、'.join(close)}？"
            f"请核对姓名后重发，例如：{example.replace('张三', close[0], 1)}"
        )
    raise DomainError(
        f"{branch.name}没有名为“{who}”的党员，也没有相近的姓名。"
        "请核对姓名（发送“党费 情况”可查看本支部交纳情况）。"
    )


def require_party_member(member: Member) -> None:
    if not member.is_party_member:
        raise DomainError(
            f"{member.name}目前是{member.status_label}，只有预备党员和正式党员交纳党费。",
            errcode="not_party_member",
        )
