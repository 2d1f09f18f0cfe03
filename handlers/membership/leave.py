"""A member leaves (离开): 转出 out of this deployment, 去世, 出党 or 停止党籍.

Everything happens in one transaction. The departure is recorded and the member's status
becomes ``left`` (models.org.LEFT). Their access ends at once: WeChat bindings, binding codes,
mini-program sessions, console logins and sessions, download links of their data. What the
rules do not require is removed: the mobile number (replaced by a placeholder; only a keyed
hash is kept, so a roster import cannot bring them back as a new member), the birth date, the
WeCom userid, subscribe credits, and the reflections of their study check-ins. Their roles end.
What the rules require stays, under their name: dues assessments, payments and months,
check-ins (without the reflection), attendance and leave records, development, volunteer
service and training. Stored figures (snapshots, assessments, reports) are not touched.

From then on no job names them: messages to them not sent yet are cancelled, meetings no
longer expect them, and every reminder reads only members on the roll (the party-member
statuses, or roles they no longer hold).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from core.config import Settings
from handlers.audit import record
from handlers.errors import Conflict, Refused
from handlers.membership.base import (
    checked_day,
    day_end,
    day_text,
    member_of,
    phone_hash,
    reason_code,
)
from handlers.membership.meetings import withdraw
from handlers.sessions import end_console_sessions, revoke_member_sessions
from models.base import write_tx
from models.console import ConsoleLogin
from models.membership import REASONS, Departure
from models.org import LEFT, LEFT_PHONE_PREFIX, Branch, Member
from models.outbox import MemberContact, OutboxMessage, SubscribeCredit
from models.privacy import ExportLink
from models.study import StudyCheckin
from models.wechat import BindCode, WechatBinding

log = logging.getLogger(__name__)

CANCELLED = "已离开，不再发送"


@dataclass(frozen=True)
class Leaving:
    """What leaving did: the departure, and how much of the member's access and data ended."""

    member: Member
    branch: Branch
    departure: Departure
    bindings: int  # WeChat accounts unbound
    sessions: int  # mini-program and console sessions ended
    messages: int  # messages to them not sent yet, cancelled
    meetings: int  # meetings that no longer expect them
    reflections: int  # check-ins whose reflection was cleared


def _already(member: Member) -> Conflict:
    row = Departure.get(Departure.member == member.id)
    return Conflict(
        f"{member.name}已于{day_text(row.left_on)}办理离开（{row.reason_label}），不能重复办理。",
        errcode="already_left",
    )


def _end_access(member: Member, now: datetime) -> tuple[int, int]:
    """Unbind every account and end every way in; return (bindings, sessions) ended."""
    openids = WechatBinding.select(WechatBinding.openid).where(WechatBinding.member == member.id)
    SubscribeCredit.delete().where(SubscribeCredit.openid.in_(openids)).execute()
    sessions = revoke_member_sessions(member.id, now)  # found through the bindings too
    sessions += end_console_sessions(member.id, now, "left")
    ConsoleLogin.delete().where(ConsoleLogin.member == member.id).execute()
    BindCode.delete().where(BindCode.member == member.id).execute()
    ExportLink.delete().where(ExportLink.member == member.id).execute()
    bindings = WechatBinding.delete().where(WechatBinding.member == member.id).execute()
    return bindings, sessions


def _forget(member: Member, now: datetime) -> int:
    """Remove the personal data the rules do not need; return the reflections cleared."""
    Member.update(
        status=LEFT,
        roles="",
        phone=f"{LEFT_PHONE_PREFIX}{member.id}",
        birth_date=None,
        updated_at=now,
        version=Member.version + 1,
    ).where(Member.id == member.id).execute()
    MemberContact.delete().where(MemberContact.member == member.id).execute()
    return (
        StudyCheckin.update(reflection="")
        .where(StudyCheckin.member == member.id, StudyCheckin.reflection != "")
        .execute()
    )


def _cancel_messages(member: Member) -> int:
    return (
        OutboxMessage.update(status="skipped", last_error=CANCELLED)
        .where(
            OutboxMessage.target_type == "member",
            OutboxMessage.target_id == member.id,
            OutboxMessage.status == "pending",
        )
        .execute()
    )


def leave_member(
    actor: Member | None,
    member_id: int,
    *,
    reason: str,
    left_on: date,
    now: datetime,
    settings: Settings,
    branch_id: int | None = None,
) -> Leaving:
    """Record that the member left (``reason``: 转出, 去世, 出党, 停止党籍 or its code) on
    ``left_on``, and end what goes with it (see the module). Committee admins of the member's
    committee, and the operator (``actor`` None); a second time is refused (already_left)."""
    code = reason_code(reason)
    with write_tx():
        member = member_of(actor, member_id, branch_id)
        if member.has_left:
            raise _already(member)
        if actor is not None and actor.id == member.id:  # it would end this very session
            raise Refused(
                "不能为自己办理离开，请由其他党委管理员或服务器操作员办理。",
                errcode="cannot_leave_self",
            )
        checked_day(left_on, "离开日期", member, now=now, settings=settings)
        before = {"status": member.status, "roles": member.roles}
        departure = Departure.create(
            member=member.id,
            reason=code,
            left_on=left_on,
            branch=member.branch_id,
            phone_hash=phone_hash(settings.app.secret_key, member.phone),
            recorded_by=actor.id if actor is not None else None,
            recorded_at=now,
        )
        bindings, sessions = _end_access(member, now)
        reflections = _forget(member, now)
        messages = _cancel_messages(member)
        meetings = withdraw([member.id], None, day_end(left_on, now, settings), now)
        record(
            actor,
            "member.leave",
            summary=f"办理离开：{member.name}（{REASONS[code]}，{day_text(left_on)}）",
            target=f"member:{member.id}",
            branch_id=member.branch_id,
            before=before,
            after={"status": LEFT, "roles": "", "reason": code, "left_on": left_on},
            now=now,
        )
    log.info(
        "member id=%s left (%s): %d bindings, %d sessions, %d messages, %d meetings",
        member.id,
        code,
        bindings,
        sessions,
        messages,
        meetings,
    )
    member = Member.get_by_id(member.id)
    return Leaving(
        member, departure.branch, departure, bindings, sessions, messages, meetings, reflections
    )
