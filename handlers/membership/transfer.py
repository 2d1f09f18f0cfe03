"""Moving a member to another branch of this deployment (转接组织关系).

A member keeps their history when they move: check-ins, attendance, dues, development and
service are theirs, and are read under the branch they belong to now. Every move is recorded
(from, to, the day, who): ``transfer_member`` for a committee admin over both branches (or the
operator at the command line), and ``record_moves`` for a roster import that names another
branch of the committee for a member. Both correct the meetings that expect the member
(handlers.membership.meetings). Moving out of the deployment is leaving with the reason 转出.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from core.config import Settings
from handlers.audit import record
from handlers.errors import Conflict, Invalid, NotFound
from handlers.membership.base import (
    admin_reaches,
    checked_day,
    day_end,
    day_text,
    member_of,
)
from handlers.membership.meetings import join_future, withdraw
from models.base import write_tx
from models.membership import Transfer
from models.org import Branch, Member

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Move:
    """One member moved by a roster import: from one branch to another."""

    member_id: int
    from_branch: int
    to_branch: int


@dataclass(frozen=True)
class Transferred:
    member: Member
    transfer: Transfer
    from_branch: Branch
    to_branch: Branch


def record_moves(
    moves: Sequence[Move],
    *,
    actor: Member | None,
    on: date,
    now: datetime,
    settings: Settings,
    source: str = "roster",
) -> int:
    """Record moves already made to the members' branch (inside the caller's transaction) and
    correct the meetings expecting them; return how many were recorded."""
    if not moves:
        return 0
    Transfer.insert_many(
        [
            {
                "member": m.member_id,
                "from_branch": m.from_branch,
                "to_branch": m.to_branch,
                "moved_on": on,
                "source": source,
                "recorded_by": actor.id if actor is not None else None,
                "recorded_at": now,
            }
            for m in moves
        ]
    ).as_rowcount().execute()
    since = day_end(on, now, settings)
    leaving: dict[int, list[int]] = defaultdict(list)
    arriving: dict[int, list[int]] = defaultdict(list)
    for m in moves:
        leaving[m.from_branch].append(m.member_id)
        arriving[m.to_branch].append(m.member_id)
    for branch_id, ids in leaving.items():
        withdraw(ids, branch_id, since, now)
    for branch_id, ids in arriving.items():
        join_future(ids, branch_id, now)
    return len(moves)


def _target(actor: Member | None, member: Member, to_branch_id: int) -> Branch:
    """The branch to move to: one the actor reaches, other than the member's."""
    branch = Branch.get_or_none(Branch.id == to_branch_id)
    if branch is None or not admin_reaches(actor, branch):
        raise NotFound(
            f"没有编号为 {to_branch_id} 的支部，或它不在您管理的党委中。", errcode="not_found"
        )
    if branch.id == member.branch_id:
        raise Invalid(f"{member.name}已在{branch.name}，无需转接。", errcode="same_branch")
    return branch


def _kept_roles(member: Member, old: Branch, new: Branch) -> str:
    """The roles that go with the member: only the committee's (党委管理员) within the same
    committee; a branch's offices stay with the branch."""
    if old.committee_id == new.committee_id and member.has_role("committee_admin"):
        return "committee_admin"
    return ""


def transfer_member(
    actor: Member | None,
    member_id: int,
    *,
    to_branch_id: int,
    moved_on: date,
    now: datetime,
    settings: Settings,
    branch_id: int | None = None,
) -> Transferred:
    """Move the member to another branch on ``moved_on``, recorded; the party group and the
    branch's offices stay behind. A committee admin over both branches, or the operator."""
    with write_tx():
        member = member_of(actor, member_id, branch_id)
        if member.has_left:
            raise Conflict(f"{member.name}已离开，不能转接组织关系。", errcode="already_left")
        old = member.branch
        new = _target(actor, member, to_branch_id)
        checked_day(moved_on, "转接日期", member, now=now, settings=settings)
        roles = _kept_roles(member, old, new)
        Member.update(
            branch=new.id,
            party_group=None,
            roles=roles,
            updated_at=now,
            version=Member.version + 1,
        ).where(Member.id == member.id).execute()
        move = Move(member.id, old.id, new.id)
        record_moves([move], actor=actor, on=moved_on, now=now, settings=settings, source="manual")
        summary = f"转接组织关系：{member.name}，{old.name} → {new.name}（{day_text(moved_on)}）"
        before = {"branch": old.id, "party_group": member.party_group_id, "roles": member.roles}
        after = {"branch": new.id, "party_group": None, "roles": roles, "moved_on": moved_on}
        for branch in [old] if old.committee_id == new.committee_id else [old, new]:
            record(
                actor,
                "member.transfer",
                summary=summary,
                target=f"member:{member.id}",
                branch_id=branch.id,
                before=before,
                after=after,
                now=now,
            )
        transfer = (
            Transfer.select()
            .where(Transfer.member == member.id)
            .order_by(Transfer.id.desc())
            .get()
        )
    log.info("member id=%s moved from branch %s to %s", member.id, old.id, new.id)
    return Transferred(Member.get_by_id(member.id), transfer, old, new)


def transfer_choices(actor: Member | None, member: Member) -> list[Branch]:
    """The branches the actor may move the member to (none for a member who left)."""
    if member.has_left or (actor is not None and not actor.has_role("committee_admin")):
        return []
    query = Branch.select().where(Branch.id != member.branch_id).order_by(Branch.name)
    if actor is not None:
        committee = Branch.get_by_id(actor.branch_id).committee_id
        query = query.where(Branch.committee == committee)
    return list(query)
