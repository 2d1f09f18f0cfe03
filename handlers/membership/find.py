"""The operator's door: the member named at the command line (by name, within a branch and a
committee when given, or with their mobile number), and the use cases on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from peewee import ModelSelect

from core.config import Settings
from handlers.errors import Conflict, NotFound
from handlers.membership.leave import Leaving, leave_member
from handlers.membership.returning import Returned, return_member
from handlers.membership.transfer import Transferred, transfer_member
from handlers.sheets import normalize_phone
from models.org import LEFT, Branch, Committee, Member


def _query(branch: str | None, committee: str | None) -> ModelSelect:
    query = Member.select(Member, Branch).join(Branch)
    if branch is not None:
        query = query.where(Branch.name == branch.strip())
    if committee is not None:
        query = query.switch(Branch).join(Committee).where(Committee.name == committee.strip())
    return query.order_by(Member.id)


def _where(branch: str | None, committee: str | None) -> str:
    parts = [f"党委“{committee.strip()}”" if committee else "", branch.strip() if branch else ""]
    return "".join(parts) or "名册"


def find_member(
    name: str,
    *,
    branch: str | None = None,
    phone: str | None = None,
    committee: str | None = None,
    left: bool = False,
) -> Member:
    """The one member of that name (and branch, committee, mobile number when given), with
    their branch. Members on the roll come before those who left; several on the roll of one
    name are refused (ambiguous_member), naming their branches. ``left``: only those who left
    (their branch is the one they left)."""
    name = name.strip()
    query = _query(branch, committee).where(Member.name == name)
    if phone is not None:
        query = query.where(Member.phone == normalize_phone(phone))
    if left:
        query = query.where(Member.status == LEFT)
    found = list(query)
    on_roll = [m for m in found if m.status != LEFT]
    if len(found) > 1 and on_roll:
        found = on_roll
    if len(found) == 1:
        return found[0]
    where = _where(branch, committee)
    if not found:
        number = "和这个手机号" if phone is not None else ""
        who = "已离开的党员" if left else "党员"
        raise NotFound(
            f"{where}中没有名为“{name}”{number}的{who}，请核对姓名。", errcode="not_found"
        )
    branches = "、".join(dict.fromkeys(m.branch.name for m in found))
    raise Conflict(
        f"{where}中有 {len(found)} 位“{name}”（{branches}），请指明支部或手机号。",
        errcode="ambiguous_member",
    )


def _branch_named(name: str, committee: str | None) -> Branch:
    """The one branch of that name (in the committee, when given), or a refusal saying why."""
    query = Branch.select(Branch, Committee).join(Committee).where(Branch.name == name.strip())
    if committee is not None:
        query = query.where(Committee.name == committee.strip())
    found = list(query)
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotFound(f"没有名为“{name.strip()}”的支部，请核对支部名称。", errcode="not_found")
    committees = "、".join(b.committee.name for b in found)
    raise Conflict(
        f"多个党委都有“{name.strip()}”（{committees}），请指明党委。",
        errcode="ambiguous_branch",
    )


@dataclass(frozen=True)
class Named:
    """How the operator named a member at the command line."""

    name: str
    branch: str | None = None
    phone: str | None = None
    committee: str | None = None

    def find(self) -> Member:
        return find_member(
            self.name, branch=self.branch, phone=self.phone, committee=self.committee
        )


def leave_named(
    who: Named, *, reason: str, left_on: date, now: datetime, settings: Settings
) -> Leaving:
    """The operator's ``member leave``: the member named, then leave_member."""
    return leave_member(
        None, who.find().id, reason=reason, left_on=left_on, now=now, settings=settings
    )


def transfer_named(
    who: Named, to_branch: str, *, moved_on: date, now: datetime, settings: Settings
) -> Transferred:
    """The operator's ``member transfer``: the member and the branch named (within the
    committee given, if any), then transfer_member."""
    member = who.find()
    target = _branch_named(to_branch, who.committee)
    return transfer_member(
        None, member.id, to_branch_id=target.id, moved_on=moved_on, now=now, settings=settings
    )


def return_named(
    who: Named,
    *,
    phone: str,
    returned_on: date,
    now: datetime,
    settings: Settings,
    status: str = "full",
    to_branch: str | None = None,
) -> Returned:
    """The operator's ``member return``: the member named among those who left (by name,
    the branch they left and the committee), then return_member."""
    member = find_member(who.name, branch=who.branch, committee=who.committee, left=True)
    target = _branch_named(to_branch, who.committee) if to_branch else None
    return return_member(
        None,
        member.id,
        phone=phone,
        returned_on=returned_on,
        now=now,
        settings=settings,
        status=status,
        to_branch_id=target.id if target is not None else None,
    )
