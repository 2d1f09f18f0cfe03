"""Meetings from the mini-program: each use case checks what the caller may see and manage,
runs the rule the bot's commands run in one write transaction, and answers plain data.

Where the member acted for themselves (sign-in, leave) their activity is noted (touch).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from handlers.binding import touch
from handlers.errors import DomainError, Invalid
from handlers.meetings.base import Settings, find_meeting, signin_window
from handlers.meetings.leave import ask_leave, decide_leave_by_id, leave_request
from handlers.meetings.qr import Qr, QrMaker, ensure_qr
from handlers.meetings.schedule import cancel_meeting, create_meeting, edit_meeting
from handlers.meetings.signin import (
    SignIn,
    counting_wrong_codes,
    mark_present_members,
    open_signin,
    sign_in_by_code,
    sign_in_by_scene,
)
from handlers.meetings.views import (
    Detail,
    Record,
    Summary,
    check_managed,
    detail,
    hidden,
    managed_branch,
    managed_meeting,
    record,
    summary,
    visible_meeting,
)
from models.base import write_tx
from models.meetings import Attendance
from models.org import Member, PartyGroup


@dataclass(frozen=True)
class SignedIn:
    created: bool  # False: the member had already signed in
    summary: Summary
    record: Record


@dataclass(frozen=True)
class LeaveAsked:
    asked_before: bool  # True: the reason was replaced
    summary: Summary
    record: Record


@dataclass(frozen=True)
class SigninCode:
    summary: Summary
    code: str
    opens: datetime
    closes: datetime
    qr: Qr | None  # None when WeChat could not make it now; the code still works


@dataclass(frozen=True)
class Marked:
    summary: Summary
    items: list[tuple[bool, Record]]  # (created, the attendance row) per member


def meeting_end(
    start: datetime, ends_at: datetime | None, duration_minutes: int | None
) -> datetime | None:
    """The end from ends_at or duration_minutes (at most one of them), else None."""
    if ends_at is not None and duration_minutes is not None:
        raise Invalid("字段 ends_at 与 duration_minutes 只能提供其一。", errcode="invalid_field")
    if duration_minutes is not None:
        return start + timedelta(minutes=duration_minutes)
    return ends_at


def _group(branch_name: str, branch_id: int, group_id: int | None, kind: str) -> PartyGroup | None:
    """The party group by id, which must be the branch's; a group meeting needs one."""
    if group_id is None:
        if kind == "group":
            raise Invalid("党小组会须提供字段：group_id", errcode="missing_field")
        return None
    group = PartyGroup.get_or_none((PartyGroup.id == group_id) & (PartyGroup.branch == branch_id))
    if group is None:
        raise DomainError(
            f"{branch_name}没有编号为 {group_id} 的党小组。", errcode="group_not_in_branch"
        )
    return group


def schedule_meeting(
    me: Member,
    *,
    kind: str,
    start: datetime,
    ends_at: datetime | None = None,
    duration_minutes: int | None = None,
    place: str = "",
    title: str = "",
    branch_id: int | None = None,
    group_id: int | None = None,
    host_id: int | None = None,
    recorder_id: int | None = None,
    now: datetime,
    settings: Settings,
) -> Detail:
    """Schedule a meeting of a branch the caller manages; expected attendees are fixed now."""
    branch = managed_branch(me, branch_id)
    end = meeting_end(start, ends_at, duration_minutes)
    group = _group(branch.name, branch.id, group_id, kind)
    with write_tx():
        meeting = create_meeting(
            me,
            kind=kind,
            start=start,
            end=end,
            place=place,
            title=title,
            branch=branch,
            group=group,
            host_id=host_id,
            recorder_id=recorder_id,
            now=now,
            settings=settings,
        )
    return detail(find_meeting(meeting.id), me, now=now, settings=settings)


def change_meeting(
    me: Member,
    meeting_id: int,
    *,
    start: datetime | None = None,
    ends_at: datetime | None = None,
    duration_minutes: int | None = None,
    place: str | None = None,
    title: str | None = None,
    host_id: int | None = None,
    recorder_id: int | None = None,
    minutes: str | None = None,
    decisions: str | None = None,
    now: datetime,
    settings: Settings,
) -> Detail:
    """Change a meeting the caller manages; attendance already recorded stays."""
    meeting = managed_meeting(me, meeting_id)
    end = meeting_end(start or meeting.starts_at, ends_at, duration_minutes)
    with write_tx():
        edit_meeting(
            me,
            meeting.id,
            start=start,
            end=end,
            place=place,
            title=title,
            host_id=host_id,
            recorder_id=recorder_id,
            minutes=minutes,
            decisions=decisions,
            now=now,
            settings=settings,
        )
    return detail(find_meeting(meeting.id), me, now=now, settings=settings)


def call_off_meeting(me: Member, meeting_id: int, *, now: datetime, settings: Settings) -> Detail:
    """Cancel a meeting the caller manages; attendance already recorded stays."""
    meeting = managed_meeting(me, meeting_id)
    with write_tx():
        cancel_meeting(me, meeting.id, now=now, tz=ZoneInfo(settings.app.timezone))
    return detail(find_meeting(meeting.id), me, now=now, settings=settings)


def start_signin(
    me: Member,
    meeting_id: int,
    *,
    now: datetime,
    settings: Settings,
    create: QrMaker,
    qr_failures: tuple[type[Exception], ...],
) -> SigninCode:
    """Open sign-in: the code, its window, and the QR code (made through `create` if needed)."""
    meeting = managed_meeting(me, meeting_id)
    with write_tx():
        meeting = open_signin(me, meeting.id, now=now, settings=settings)
    opens, closes = signin_window(meeting, settings)
    shown = summary(meeting, me)
    qr = ensure_qr(meeting, now, settings, create, qr_failures)
    return SigninCode(shown, meeting.signin_code, opens, closes, qr)


def member_sign_in(
    me: Member,
    *,
    code: str | None = None,
    scene: str | None = None,
    now: datetime,
    settings: Settings,
) -> SignedIn:
    """Sign the caller in with the code read out or a scanned scene (one of them)."""

    def attempt() -> SignIn:
        if code is not None:
            result = sign_in_by_code(me, code, now=now, settings=settings)
        else:
            result = sign_in_by_scene(me, scene or "", now=now, settings=settings)
        touch(me, now)
        return result

    result = counting_wrong_codes(me, now, attempt)
    return SignedIn(result.created, summary(result.meeting, me), record(result.attendance))


def request_leave(
    me: Member, meeting_id: int, reason: str, *, now: datetime, settings: Settings
) -> LeaveAsked:
    """Ask leave for an upcoming meeting the caller sees; asking again replaces the reason."""
    meeting = visible_meeting(me, meeting_id)
    asked_before = (
        Attendance.select()
        .where(Attendance.meeting == meeting.id, Attendance.member == me.id)
        .exists()
    )
    with write_tx():
        row = ask_leave(me, reason, meeting.id, now=now, settings=settings)
        touch(me, now)
    return LeaveAsked(asked_before, summary(meeting, me), record(row))


def record_present_by_hand(
    me: Member, meeting_id: int, member_ids: list[int], *, now: datetime, settings: Settings
) -> Marked:
    """补签: record expected members present by hand, with who did it (all or none)."""
    meeting = managed_meeting(me, meeting_id)
    with write_tx():
        results = mark_present_members(me, meeting.id, member_ids, now=now, settings=settings)
    items = [(r.created, record(r.attendance)) for r in results]
    return Marked(summary(meeting, me), items)


def decide_leave_request(
    me: Member, leave_id: int, approve: bool, *, now: datetime, settings: Settings
) -> Record:
    """Approve or reject a pending leave request of a meeting the caller manages."""
    row = leave_request(leave_id)
    if row is None:
        raise hidden()
    check_managed(me, row.meeting)
    with write_tx():
        row = decide_leave_by_id(me, leave_id, approve, now=now, settings=settings)
    return record(row)
