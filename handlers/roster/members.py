"""A branch's members as its managers see them: the filtered list, and unbinding one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import JOIN

from handlers.binding import Unbound, unbind
from handlers.errors import Refused
from handlers.roster.access import forbidden, managed_member, not_found
from handlers.roster.codes import has_binding
from models.org import LEFT, Member, PartyGroup, may_manage_binding


@dataclass(frozen=True)
class MemberPage:
    """One page of members (each with ``party_group`` and ``is_bound``) and how many match."""

    members: list[Member]
    total: int


def list_members(
    branch_id: int,
    *,
    status: str | None = None,
    bound: bool | None = None,
    q: str = "",
    group_id: int | None = None,
    limit: int,
    offset: int,
) -> MemberPage:
    """The branch's members by id, filtered by status, binding, part of the name and group;
    without a status, those on the roll (members who left only with status ``left``).

    The page is cut here (``limit``, ``offset``) so that the count and the rows come from the
    same filtered query; a group of another branch is not found.
    """
    bound_expr = has_binding()
    select = (
        Member.select(Member, PartyGroup, bound_expr.alias("is_bound"))
        .join(PartyGroup, JOIN.LEFT_OUTER, on=Member.party_group == PartyGroup.id)
        .where(Member.branch == branch_id)
        .order_by(Member.id)
    )
    if status is not None:
        select = select.where(Member.status == status)
    else:  # those who left are listed when asked for (status "left") only
        select = select.where(Member.status != LEFT)
    if bound is not None:
        select = select.where(bound_expr if bound else ~bound_expr)
    if q.strip():
        select = select.where(Member.name.contains(q.strip()))
    if group_id is not None:
        group = PartyGroup.get_or_none(PartyGroup.id == group_id, PartyGroup.branch == branch_id)
        if group is None:
            raise not_found()
        select = select.where(Member.party_group == group.id)
    return MemberPage(list(select.limit(limit).offset(offset)), select.count())


def unbind_member(actor: Member, member_id: int, now: datetime) -> tuple[Member, Unbound]:
    """Unbind a managed member's WeChat accounts and end their sessions; not oneself."""
    target = managed_member(actor, member_id)
    if not may_manage_binding(actor, target):
        raise forbidden(
            f"{target.name} 担任您所没有的职务，不能由您解除绑定，请由党委管理员办理。"
        )
    if target.id == actor.id:  # it would end this very session, and lock the manager out
        raise Refused(
            "不能解除自己的绑定，请联系其他支委或党委管理员办理。",
            errcode="cannot_unbind_self",
        )
    return target, unbind(target, now, actor=actor)
