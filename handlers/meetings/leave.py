"""Meetings: leave requests, asked by members and decided by managers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from peewee import Select

from handlers.errors import Conflict, DomainError, NotFound
from handlers.meetings.base import (
    Settings,
    day_hm,
    describe,
    get_meeting,
    is_expected,
    require_manager,
)
from handlers.meetings.trail import record_meeting
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import Branch, Member

# Leave requests listed when a name matches several pending ones.
LEAVE_LIST_MAX = 5


def ask_leave(
    member: Member, reason: str, meeting_id: int | None, *, now: datetime, settings: Settings
) -> Attendance:
    """Record a leave request for an upcoming meeting the member is expected at (the row
    comes back with its meeting loaded)."""
    tz = ZoneInfo(settings.app.timezone)
    reason = reason.strip()
    if not reason:
        raise DomainError("请写明请假原因，例如：请假 出差在外", errcode="reason_missing")
    if len(reason) > 200:
        raise DomainError("请假原因请控制在 200 字以内。", errcode="too_long")
    meeting = _meeting_to_leave(member, meeting_id, now, tz)
    existing = Attendance.get_or_none(
        (Attendance.meeting == meeting.id) & (Attendance.member == member.id)
    )
    if existing is not None and existing.status == "present":
        raise DomainError("您已签到，无需请假。", errcode="already_signed_in")
    if existing is not None:
        existing.leave_reason, existing.leave_status, existing.at = reason, "pending", now
        existing.decided_by = None
        existing.save()
        existing.meeting = meeting
        return existing
    return Attendance.create(
        meeting=meeting,
        member=member.id,
        status="leave",
        leave_reason=reason,
        leave_status="pending",
        at=now,
    )


def _meeting_to_leave(
    member: Member, meeting_id: int | None, now: datetime, tz: ZoneInfo
) -> Meeting:
    """The upcoming meeting the member asks leave for: the named one, or their only one."""
    mine = list(
        Meeting.select()
        .join(MeetingAttendee)
        .where(
            MeetingAttendee.member == member.id,
            Meeting.status == "scheduled",
            Meeting.starts_at > now,
        )
        .order_by(Meeting.starts_at)
    )
    if meeting_id is not None:
        chosen = [m for m in mine if m.id == meeting_id]
        if not chosen:
            raise DomainError(
                f"编号 {meeting_id} 不是您即将参加的会议（会议开始后不能再请假）。",
                errcode=_leave_refusal(member, meeting_id),
            )
        meeting = chosen[0]
    elif not mine:
        raise DomainError(
            "您近期没有需要参加的会议，无需请假。会议开始后不能再请假。", errcode="leave_closed"
        )
    elif len(mine) > 1:
        listing = "\n".join(describe(m, tz) for m in mine[:5])
        raise DomainError(
            f"您近期有 {len(mine)} 个会议：\n{listing}\n请发送“请假 编号 原因”。",
            errcode="meeting_ambiguous",
        )
    else:
        meeting = mine[0]
    return meeting


def _leave_refusal(member: Member, meeting_id: int) -> str:
    """The stable code of why a leave for this meeting was refused: cancelled, not expected,
    or (the rest) started already."""
    meeting = Meeting.get_or_none(Meeting.id == meeting_id)
    if meeting is None:
        return "not_found"
    if meeting.status != "scheduled":
        return "meeting_cancelled"
    if not is_expected(meeting, member):
        return "not_expected"
    return "leave_closed"


def decide_leave(
    actor: Member,
    name: str,
    approve: bool,
    meeting_id: int | None,
    *,
    now: datetime,
    settings: Settings,
) -> Attendance:
    """Approve or reject a member's pending leave request, named by the member's name.

    Only a pending request for a meeting that is still scheduled and has not ended can be
    decided: a decision stands once made, and an ended meeting's record is history (the
    six-month rule reads it). Without a meeting number the name must match exactly one such
    request in the actor's branch; when it matches several, the refusal lists their meetings
    and asks for the number. The decided row comes back with its meeting loaded.
    """
    tz = ZoneInfo(settings.app.timezone)
    name = name.strip()
    verb = "批准请假" if approve else "驳回请假"
    if not name:
        raise DomainError(
            f"请写明请假人姓名，例如：{verb} 张三（有多个会议时：{verb} 张三 编号）",
            errcode="name_missing",
        )
    meeting, requests = _requests_named(actor, name, meeting_id)
    pending = list(
        requests.where(
            Attendance.status == "leave",
            Attendance.leave_status == "pending",
            Meeting.status == "scheduled",
            Meeting.ends_at > now,
        ).order_by(Meeting.starts_at, Attendance.id)
    )
    if len(pending) == 1:
        return _decide(actor, pending[0], approve, now=now, tz=tz)
    if pending:
        raise _ambiguous(pending, name, verb, meeting, tz)
    latest = requests.order_by(Meeting.starts_at.desc(), Attendance.id.desc()).first()
    if latest is None:
        where = describe(meeting, tz) if meeting is not None else "本支部"
        raise NotFound(
            f"{where}没有找到“{name}”的请假申请。请核对姓名；"
            "发送“会议 情况 编号”可查看某次会议的请假情况。",
            errcode="not_found",
        )
    # Not pending, or its meeting is over: the refusal says which (it is never None here).
    raise _not_decidable(latest, now, tz) or DomainError(f"没有找到“{name}”待审批的请假申请。")


def _requests_named(
    actor: Member, name: str, meeting_id: int | None
) -> tuple[Meeting | None, Select]:
    """The named meeting (None: the actor's whole branch) and the leave requests, any state,
    of members with this name in it."""
    if meeting_id is not None:
        meeting: Meeting | None = get_meeting(actor, meeting_id)
        scope = Meeting.id == meeting_id
    else:
        meeting = None
        require_manager(actor, Branch.get_by_id(actor.branch_id))
        scope = Meeting.branch == actor.branch_id
    requests = (
        Attendance.select(Attendance, Meeting, Member)
        .join(Meeting)
        .switch(Attendance)
        .join(Member, on=Attendance.member == Member.id)
        .where(scope, Member.name == name, Attendance.leave_status != "")
    )
    return meeting, requests


def _ambiguous(
    pending: list[Attendance], name: str, verb: str, meeting: Meeting | None, tz: ZoneInfo
) -> DomainError:
    """The refusal when a name matches several pending requests."""
    if meeting is not None:  # namesakes asking leave for the same meeting
        return DomainError(
            f"{describe(meeting, tz)}\n有 {len(pending)} 位“{name}”的请假申请待审批，"
            "无法按姓名区分，请在小程序的请假列表中逐条审批。",
            errcode="ambiguous_name",
        )
    listing = "\n".join(
        f"{describe(row.meeting, tz)} 原因：{row.leave_reason}" for row in pending[:LEAVE_LIST_MAX]
    )
    more = f"\n……共 {len(pending)} 个" if len(pending) > LEAVE_LIST_MAX else ""
    return DomainError(
        f"“{name}”有 {len(pending)} 个会议的请假待审批：\n{listing}{more}\n"
        f"请加上会议编号，例如：{verb} {name} {pending[0].meeting.id}",
        errcode="meeting_ambiguous",
    )


def leave_request(leave_id: int) -> Attendance | None:
    """A leave request by its id (its meeting and branch loaded), pending, decided, or since
    overtaken by a sign-in; None if the id names no leave request."""
    return (
        Attendance.select(Attendance, Meeting, Branch)
        .join(Meeting)
        .join(Branch)
        .where(Attendance.id == leave_id, Attendance.leave_status != "")
        .first()
    )


def decide_leave_by_id(
    actor: Member, leave_id: int, approve: bool, *, now: datetime, settings: Settings
) -> Attendance:
    """Approve or reject one leave request by its id (the mini-program), by decide_leave's
    rule: only a pending request of a meeting that has not ended."""
    row = leave_request(leave_id)
    if row is None:
        raise NotFound(f"没有编号为 {leave_id} 的请假申请。", errcode="not_found")
    return _decide(actor, row, approve, now=now, tz=ZoneInfo(settings.app.timezone))


def _not_decidable(row: Attendance, now: datetime, tz: ZoneInfo) -> DomainError | None:
    """Why the request cannot be decided (and what to do), or None: it is pending and its
    meeting is scheduled and has not ended."""
    meeting = row.meeting
    who = Member.get_by_id(row.member_id).name
    if row.status == "present":
        return DomainError(
            f"{who} 已签到，请假申请无需审批：{describe(meeting, tz)}",
            errcode="already_signed_in",
        )
    if row.leave_status != "pending":
        done = "已批准" if row.leave_status == "approved" else "已驳回"
        return Conflict(
            f"{who} 的请假{done}，不能再更改：{describe(meeting, tz)}",
            errcode="leave_decided",
            chat_hint=(
                f"\n如情况有变，请{who}在会议开始前重新发送“请假 {meeting.id} 原因”，再行审批。"
            ),
        )
    if meeting.status != "scheduled":
        return DomainError(
            f"{describe(meeting, tz)} 已取消，{who} 的请假无需审批。",
            errcode="meeting_cancelled",
        )
    if meeting.ends_at <= now:
        return DomainError(
            f"{describe(meeting, tz)} 已于 {day_hm(meeting.ends_at, tz)} 结束，"
            f"会议结束后不能再审批请假，{who} 的出席记录保持不变。",
            errcode="meeting_ended",
        )
    return None


def _decide(
    actor: Member, row: Attendance, approve: bool, *, now: datetime, tz: ZoneInfo
) -> Attendance:
    require_manager(actor, Branch.get_by_id(row.meeting.branch_id))
    refusal = _not_decidable(row, now, tz)
    if refusal is not None:
        raise refusal
    status = "approved" if approve else "rejected"
    # Compare and set: of two managers deciding at once, one wins and the other is told.
    won = (
        Attendance.update(leave_status=status, decided_by=actor.id)
        .where(
            Attendance.id == row.id,
            Attendance.status == "leave",
            Attendance.leave_status == "pending",
        )
        .execute()
    )
    if not won:
        raise Conflict(
            "这条请假申请刚刚已被处理。",
            errcode="leave_decided",
            chat_hint="请发送“会议 情况 编号”查看结果。",
        )
    row.leave_status, row.decided_by = status, actor.id
    who = Member.get_by_id(row.member_id)
    record_meeting(
        actor,
        "meeting.leave_decide",
        f"{'批准' if approve else '驳回'}{who.name}的请假",
        row.meeting,
        tz,
        now=now,
        before={"member_id": who.id, "leave_status": "pending"},
        after={"member_id": who.id, "leave_status": status},
    )
    return row
