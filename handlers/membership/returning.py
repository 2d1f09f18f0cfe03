"""A member who transferred out comes back (转回).

Someone whose organizational relationship moved out of this deployment (离开, reason 转出)
may move back in, years later or after a mistaken entry. They are the same person with the
same records, so they come back under their own name rather than as a new member: the roster
import refuses their number for that reason and points here.

One transaction: the member is on the roll again, with the party status they hold now
(正式 or 预备), the mobile number they give (the old one was removed when they left), in the
branch they left or another of the committee, with no roles and no party group. The departure
row goes, so that they can leave again one day; what it said (why, when, from which branch)
is kept in a ``MemberReturn`` with the day they came back and who recorded it. Meetings of
their branch still ahead expect them. It is audited. What leaving removed stays removed: the
reflections, the birth date, the WeChat binding (they bind again with a new code).

Only 转出 comes back here: 去世 cannot, and 出党 or 停止党籍 end party membership, which is
restored only by the procedure the rules lay down (a new application, or 恢复党籍).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from core.config import Settings
from handlers.audit import record
from handlers.errors import Conflict, Invalid, NotFound, Refused
from handlers.membership.base import (
    admin_reaches,
    checked_day,
    day_text,
    member_of,
)
from handlers.membership.meetings import join_future
from handlers.sheets import normalize_phone, phone_problem
from models.base import write_tx
from models.membership import REASONS, Departure, MemberReturn
from models.org import PARTY_MEMBER_STATUSES, STATUSES, Branch, Member

log = logging.getLogger(__name__)

# What people type for the party status on return (the labels and codes themselves, too).
RETURN_STATUS_WORDS: dict[str, str] = {
    **{STATUSES[code]: code for code in PARTY_MEMBER_STATUSES},
    **{code: code for code in PARTY_MEMBER_STATUSES},
    "正式": "full",
    "预备": "probationary",
}


@dataclass(frozen=True)
class Returned:
    member: Member
    returned: MemberReturn
    left_branch: Branch
    to_branch: Branch
    meetings: int  # meetings ahead that now expect them


def return_status(text: str) -> str:
    """The party status code of what was typed (正式, 预备, or a code), or refuse."""
    typed = (text or "").strip()
    code = RETURN_STATUS_WORDS.get(typed)
    if code is None:
        raise Invalid(
            f"党员类别“{typed[:20]}”无法识别，转回时可填：正式党员、预备党员。",
            errcode="invalid_status",
        )
    return code


def _phone(raw: str) -> str:
    """The new mobile number, normalized; refused when it is not one or someone has it."""
    phone = normalize_phone(raw or "")
    problem = phone_problem(raw or "", phone)
    if problem is not None:
        raise Invalid(f"{problem}，请填写转回党员现在使用的手机号。", errcode="invalid_phone")
    holder = Member.get_or_none(Member.phone == phone)
    if holder is not None:
        raise Conflict(
            f"手机号 {phone[:3]}****{phone[-4:]} 已是{holder.name}的号码，请核对。",
            errcode="phone_taken",
        )
    return phone


def _departure(member: Member) -> Departure:
    """The member's departure, if it is one that may come back (转出)."""
    if not member.has_left:
        raise Conflict(f"{member.name}没有离开，无需办理转回。", errcode="not_left")
    gone = Departure.get(Departure.member == member.id)
    if gone.reason != "transfer_out":
        label = REASONS.get(gone.reason, gone.reason)
        if gone.reason == "died":
            text = f"{member.name}已于{day_text(gone.left_on)}去世，不能办理转回。"
        else:
            text = (
                f"{member.name}于{day_text(gone.left_on)}因{label}离开，不能办理转回："
                "恢复党员身份须按党章和有关规定另行办理。"
            )
        raise Refused(text, errcode="cannot_return")
    return gone


def _to_branch(actor: Member | None, to_branch_id: int | None, gone: Departure) -> Branch:
    """The branch they come back to: the one they left unless another is named."""
    branch = Branch.get_or_none(Branch.id == (to_branch_id or gone.branch_id))
    if branch is None or not admin_reaches(actor, branch):
        raise NotFound(
            f"没有编号为 {to_branch_id} 的支部，或它不在您管理的党委中。", errcode="not_found"
        )
    return branch


def return_member(
    actor: Member | None,
    member_id: int,
    *,
    phone: str,
    returned_on: date,
    now: datetime,
    settings: Settings,
    status: str = "full",
    to_branch_id: int | None = None,
    branch_id: int | None = None,
) -> Returned:
    """Bring back a member who transferred out (see the module): on the roll again from
    ``returned_on`` with ``status`` (正式 or 预备) and the mobile number ``phone``, in the
    branch they left or ``to_branch_id``. Committee admins of the member's committee (reaching
    the branch too), or the operator (``actor`` None)."""
    code = return_status(status)
    with write_tx():
        member = member_of(actor, member_id, branch_id)
        gone = _departure(member)
        left_branch = Branch.get_by_id(gone.branch_id)
        branch = _to_branch(actor, to_branch_id, gone)
        checked_day(returned_on, "转回日期", member, now=now, settings=settings)
        if returned_on < gone.left_on:
            raise Invalid(
                f"转回日期 {day_text(returned_on)} 早于离开日期 {day_text(gone.left_on)}，"
                "请核对。",
                errcode="day_before_leaving",
            )
        number = _phone(phone)
        returned = MemberReturn.create(
            member=member.id,
            left_reason=gone.reason,
            left_on=gone.left_on,
            left_branch=gone.branch_id,
            phone_hash=gone.phone_hash,
            returned_on=returned_on,
            to_branch=branch.id,
            recorded_by=actor.id if actor is not None else None,
            recorded_at=now,
        )
        gone.delete_instance()
        Member.update(
            status=code,
            phone=number,
            branch=branch.id,
            party_group=None,
            roles="",
            updated_at=now,
            version=Member.version + 1,
        ).where(Member.id == member.id).execute()
        meetings = join_future([member.id], branch.id, now)
        record(
            actor,
            "member.return",
            summary=(
                f"办理转回：{member.name}（{STATUSES[code]}），转回{branch.name}"
                f"（{day_text(returned_on)}；{day_text(gone.left_on)}转出）"
            ),
            target=f"member:{member.id}",
            branch_id=branch.id,
            before={"status": member.status, "branch": member.branch_id},
            after={"status": code, "branch": branch.id, "returned_on": returned_on},
            now=now,
        )
    log.info("member id=%s returned to branch %s", member.id, branch.id)
    return Returned(Member.get_by_id(member.id), returned, left_branch, branch, meetings)


def return_choices(actor: Member | None, member: Member) -> list[Branch]:
    """The branches the actor may bring the member back to, the one they left first (none
    unless the member transferred out and the actor is a committee admin of theirs)."""
    if not member.has_left or (actor is not None and not actor.has_role("committee_admin")):
        return []
    gone = Departure.get_or_none(Departure.member == member.id)
    if gone is None or gone.reason != "transfer_out":
        return []
    left = Branch.get_by_id(gone.branch_id)
    if not admin_reaches(actor, left):
        return []
    others = (
        Branch.select()
        .where(Branch.committee == left.committee_id, Branch.id != left.id)
        .order_by(Branch.name)
    )
    return [left, *others]
