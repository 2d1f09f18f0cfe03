"""/api/v1 routes: meetings.

Members: their branch's upcoming meetings, a meeting's detail, sign-in by code or scanned scene,
leave requests, their own attendance. Managers (handlers.meetings.can_manage: the branch's
secretary, deputy secretary or organizer; a committee admin for the committee's branches):
schedule, edit, cancel, open sign-in (code and QR), 补签, the attendance report, leave
decisions. Every write calls the handler the bot's meeting commands call.

A meeting id of a branch the caller may not see answers 404; a meeting of the caller's own
branch on a manager route answers 403 to a plain member.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from flask import Response

from api import auth
from api.common import (
    FORBIDDEN,
    body,
    bp,
    branch_for,
    day_text,
    iso,
    member,
    not_found,
    paginate,
    query,
    render_as,
    settings,
    tz,
)
from api.errors import ApiError
from api.openapi import operation
from api.shapes import PageQuery
from api.shapes import meetings as shapes
from api.shapes.meetings import STATUS_LABELS
from bot.clients import WeChatApiError, create_meeting_qr
from core.clock import utcnow
from handlers import meetings as h
from handlers.binding import touch
from models.base import write_tx
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import BRANCH_MANAGERS, Member, PartyGroup

log = logging.getLogger(__name__)


# ---- lookups --------------------------------------------------------------------------------


def _check_visible(me: Member, meeting: Meeting) -> None:
    """A meeting is visible to its branch's members and to whoever manages that branch."""
    if meeting.branch_id != me.branch_id and not h.can_manage(me, meeting.branch):
        raise not_found()


def _visible(me: Member, meeting_id: int) -> Meeting:
    meeting = h.find_meeting(meeting_id)
    if meeting is None:
        raise not_found()
    _check_visible(me, meeting)
    return meeting


def _check_managed(me: Member, meeting: Meeting) -> None:
    _check_visible(me, meeting)
    if not h.can_manage(me, meeting.branch):
        raise ApiError(403, "forbidden", FORBIDDEN)


def _managed(me: Member, meeting_id: int) -> Meeting:
    meeting = _visible(me, meeting_id)
    _check_managed(me, meeting)
    return meeting


# ---- representations ------------------------------------------------------------------------


def _person(m: Member | None) -> dict[str, Any] | None:
    return {"id": m.id, "name": m.name} if m is not None else None


def _people(ids: Iterable[int | None]) -> dict[int, Member]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {m.id: m for m in Member.select().where(Member.id.in_(wanted))}


def _state(row: Attendance | None) -> str:
    if row is None:
        return "none"
    if row.status == "present":
        return "present"
    return f"leave_{row.leave_status}"


def _summaries(meetings: list[Meeting], me: Member) -> list[dict[str, Any]]:
    """Meetings as list items, each with whether the caller is expected and their state."""
    ids = [m.id for m in meetings]
    if not ids:
        return []
    expected = {
        a.meeting_id
        for a in MeetingAttendee.select(MeetingAttendee.meeting).where(
            MeetingAttendee.member == me.id, MeetingAttendee.meeting.in_(ids)
        )
    }
    rows = {
        a.meeting_id: a
        for a in Attendance.select().where(Attendance.member == me.id, Attendance.meeting.in_(ids))
    }
    group_ids = {m.party_group_id for m in meetings if m.party_group_id}
    groups = (
        {g.id: g.name for g in PartyGroup.select().where(PartyGroup.id.in_(group_ids))}
        if group_ids
        else {}
    )
    return [
        {
            "id": m.id,
            "branch_id": m.branch_id,
            "kind": m.kind,
            "kind_label": m.kind_label,
            "title": m.title,
            "place": m.place,
            "starts_at": iso(m.starts_at),
            "ends_at": iso(m.ends_at),
            "status": m.status,
            "status_label": STATUS_LABELS.get(m.status, m.status),
            "group": (
                {"id": m.party_group_id, "name": groups[m.party_group_id]}
                if m.party_group_id in groups
                else None
            ),
            "expected": m.id in expected,
            "my_state": _state(rows.get(m.id)),
        }
        for m in meetings
    ]


def _summary(meeting: Meeting, me: Member) -> dict[str, Any]:
    return _summaries([meeting], me)[0]


def _detail(meeting: Meeting, me: Member) -> dict[str, Any]:
    now = utcnow()
    manager = h.can_manage(me, meeting.branch)
    row = Attendance.get_or_none((Attendance.meeting == meeting.id) & (Attendance.member == me.id))
    people = _people([meeting.host_id, meeting.recorder_id])
    opens, closes = h.signin_window(meeting, settings())
    return {
        **_summary(meeting, me),
        "host": _person(people.get(meeting.host_id)),
        "recorder": _person(people.get(meeting.recorder_id)),
        "expected_count": MeetingAttendee.select()
        .where(MeetingAttendee.meeting == meeting.id)
        .count(),
        "signin": {
            "opens_at": iso(opens),
            "closes_at": iso(closes),
            "open": meeting.status == "scheduled" and opens <= now <= closes,
        },
        "mine": {
            "at": iso(row.at) if row else None,
            "method": (row.method or None) if row and row.status == "present" else None,
            "leave_reason": (row.leave_reason or None) if row else None,
        },
        "can_manage": manager,
        "minutes": meeting.minutes if manager else None,
        "decisions": meeting.decisions if manager else None,
    }


def _record(row: Attendance) -> dict[str, Any]:
    """One attendance row: present (how, by whom) or on leave (why, decided by whom)."""
    people = _people([row.member_id, row.recorded_by_id, row.decided_by_id])
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "member": _person(people[row.member_id]),
        "status": row.status,
        "method": row.method or None,
        "at": iso(row.at),
        "recorded_by": _person(people.get(row.recorded_by_id)),
        "leave_reason": row.leave_reason or None,
        "leave_status": row.leave_status or None,
        "decided_by": _person(people.get(row.decided_by_id)),
    }


def _leave(row: Attendance, people: dict[int, Member]) -> dict[str, Any]:
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "member": _person(people[row.member_id]),
        "reason": row.leave_reason,
        "status": row.leave_status,
        "asked_at": iso(row.at),
        "decided_by": _person(people.get(row.decided_by_id)),
    }


def _page_of_meetings(select: Any, args: dict[str, Any], me: Member) -> dict[str, Any]:
    page = paginate(select, args, lambda m: m)
    page["items"] = _summaries(page["items"], me)
    return page


def _end(data: dict[str, Any], start: datetime) -> datetime | None:
    """The end from ends_at or duration_minutes (at most one of them), else None."""
    if "ends_at" in data and "duration_minutes" in data:
        raise ApiError(400, "invalid_field", "字段 ends_at 与 duration_minutes 只能提供其一。")
    if "duration_minutes" in data:
        return start + timedelta(minutes=data["duration_minutes"])
    return data.get("ends_at")


# ---- member routes --------------------------------------------------------------------------

MEMBER = ("400", "401", "403")
MANAGER = ("400", "401", "403", "422")


@bp.get("/meetings")
@operation(
    "Meetings of my branch that have not ended (cancelled ones too)",
    {200: (shapes.MeetingPage, "Meetings")},
    errors=MEMBER,
    query=shapes.MeetingListQuery,
    description="Each with whether I am expected and my attendance. Committee admins and "
    "branch managers may pass branch_id of a branch they act for.",
)
def meetings_list() -> Response:
    """Meetings of the branch that have not ended yet (cancelled ones too), soonest first."""
    args = query(shapes.MeetingListQuery)
    me = member()
    branch_id = args.get("branch_id") or me.branch_id
    if branch_id != me.branch_id:
        branch_id = branch_for(me, branch_id, BRANCH_MANAGERS).id
    select = Meeting.select().where(Meeting.branch == branch_id, Meeting.ends_at > utcnow())
    select = select.order_by(Meeting.starts_at, Meeting.id)
    return render_as(shapes.MeetingPage, _page_of_meetings(select, args, me))


@bp.get("/meetings/<id:meeting_id>")
@operation(
    "A meeting of my branch: host, recorder, expected count, my state, window",
    {200: (shapes.MeetingDetail, "The meeting")},
    errors=MEMBER,
)
def meeting_detail(meeting_id: int) -> Response:
    query()
    me = member()
    return render_as(shapes.MeetingDetail, _detail(_visible(me, meeting_id), me))


@bp.post("/meetings/signin")
@operation(
    "Sign in with the code read out, or a scanned sign-in scene",
    {
        201: (shapes.MeetingSigninResponse, "Signed in"),
        200: (shapes.MeetingSigninResponse, "Already signed in; nothing changed"),
    },
    errors=(*MANAGER, "429"),
    json=shapes.MeetingSigninRequest,
    description="Refusals (422) carry stable errcodes: wrong_code, signin_not_open, "
    "signin_closed, meeting_cancelled, not_expected, qr_invalid. Too many wrong codes in an "
    "hour, or too many attempts in a minute, answer 429.",
)
def meeting_signin() -> tuple[Response, int]:
    """Sign in with the code read out (签到 in the bot) or a scanned sign-in scene."""
    data = body(shapes.MeetingSigninRequest)
    if not data:
        raise ApiError(400, "missing_field", "缺少字段：code 或 scene（二选一）")
    if len(data) > 1:
        raise ApiError(400, "invalid_field", "字段 code 与 scene 只能提供其一。")
    ((name, value),) = data.items()
    if not value.strip():
        raise ApiError(400, "invalid_field", f"字段 {name} 不能为空。")
    me = member()
    cfg = settings()
    now = utcnow()
    auth.rate_limit(f"api-signin:member:{me.id}", cfg["api"]["signin_rate_per_minute"], now)
    try:
        with write_tx():
            if name == "code":
                result = h.sign_in_by_code(me, value, now=now, settings=cfg)
            else:
                result = h.sign_in_by_scene(me, value, now=now, settings=cfg)
            touch(me, now)
    except h.WrongSigninCode:
        with write_tx():
            h.count_wrong_code(me, now)
        raise
    answer = {
        "created": result.created,
        "meeting": _summary(result.meeting, me),
        "attendance": _record(result.attendance),
    }
    return render_as(shapes.MeetingSigninResponse, answer), 201 if result.created else 200


@bp.post("/meetings/<id:meeting_id>/leave")
@operation(
    "Ask leave for an upcoming meeting I am expected at",
    {
        201: (shapes.MeetingLeaveResponse, "Leave asked"),
        200: (shapes.MeetingLeaveResponse, "Asked again: reason replaced, pending again"),
    },
    errors=MANAGER,
    json=shapes.MeetingLeaveRequest,
    description="Refusals (422): leave_closed (started), meeting_cancelled, not_expected, "
    "already_signed_in.",
)
def meeting_leave(meeting_id: int) -> tuple[Response, int]:
    """Ask leave for an upcoming meeting (请假 in the bot); asking again replaces the reason."""
    reason = body(shapes.MeetingLeaveRequest)["reason"]
    me = member()
    meeting = _visible(me, meeting_id)
    now = utcnow()
    asked_before = (
        Attendance.select()
        .where(Attendance.meeting == meeting.id, Attendance.member == me.id)
        .exists()
    )
    with write_tx():
        row = h.ask_leave(me, reason, meeting.id, now=now, settings=settings())
        touch(me, now)
    answer = {"meeting": _summary(meeting, me), "attendance": _record(row)}
    return render_as(shapes.MeetingLeaveResponse, answer), 200 if asked_before else 201


@bp.get("/meetings/attendance")
@operation(
    "My attendance this quarter and my past meetings with my state",
    {200: (shapes.MeetingMine, "My attendance")},
    errors=MEMBER,
    query=PageQuery,
)
def meetings_mine() -> Response:
    """This quarter's attended / held meetings, and my past meetings with my state."""
    args = query(PageQuery)
    me = member()
    now = utcnow()
    zone = tz()
    _, attended, held = h.member_meetings(me, now=now, tz=zone)
    past = (
        Meeting.select()
        .join(MeetingAttendee)
        .where(
            MeetingAttendee.member == me.id,
            Meeting.status == "scheduled",
            Meeting.ends_at <= now,
        )
        .order_by(Meeting.starts_at.desc(), Meeting.id.desc())
    )
    quarter = {
        "start": day_text(h.quarter_start(now, zone).date()),
        "attended": attended,
        "held": held,
        "rate": attended / held if held else None,
    }
    return render_as(shapes.MeetingMine, {"quarter": quarter, **_page_of_meetings(past, args, me)})


# ---- manager routes -------------------------------------------------------------------------


@bp.post("/meetings")
@operation(
    "Schedule a meeting (managers)",
    {201: (shapes.MeetingDetail, "Scheduled")},
    errors=MANAGER,
    json=shapes.MeetingCreateRequest,
)
def meeting_create() -> tuple[Response, int]:
    """Schedule a meeting (会议 … in the bot); expected attendees are fixed now."""
    data = body(shapes.MeetingCreateRequest)
    me = member()
    branch = branch_for(me, data.get("branch_id"), BRANCH_MANAGERS)
    start = data["starts_at"]
    end = _end(data, start)
    group = None
    if "group_id" in data:
        group = PartyGroup.get_or_none(
            (PartyGroup.id == data["group_id"]) & (PartyGroup.branch == branch.id)
        )
        if group is None:
            raise ApiError(
                422,
                "group_not_in_branch",
                f"{branch.name}没有编号为 {data['group_id']} 的党小组。",
            )
    elif data["kind"] == "group":
        raise ApiError(400, "missing_field", "党小组会须提供字段：group_id")
    with write_tx():
        meeting = h.create_meeting(
            me,
            kind=data["kind"],
            start=start,
            end=end,
            place=data.get("place", ""),
            title=data.get("title", ""),
            branch=branch,
            group=group,
            host_id=data.get("host_id"),
            recorder_id=data.get("recorder_id"),
            now=utcnow(),
            settings=settings(),
        )
    return render_as(shapes.MeetingDetail, _detail(h.find_meeting(meeting.id), me)), 201


@bp.patch("/meetings/<id:meeting_id>")
@operation(
    "Change a meeting (managers); attendance already recorded stays",
    {200: (shapes.MeetingDetail, "Changed")},
    errors=MANAGER,
    json=shapes.MeetingEditRequest,
)
def meeting_edit(meeting_id: int) -> Response:
    """Change a meeting (修改会议 in the bot); attendance already recorded stays."""
    data = body(shapes.MeetingEditRequest)
    if not data:
        raise ApiError(400, "missing_field", "请至少提供一个要修改的字段。")
    me = member()
    meeting = _managed(me, meeting_id)
    start = data.get("starts_at")
    end = _end(data, start or meeting.starts_at)
    with write_tx():
        h.edit_meeting(
            me,
            meeting.id,
            start=start,
            end=end,
            place=data.get("place"),
            title=data.get("title"),
            host_id=data.get("host_id"),
            recorder_id=data.get("recorder_id"),
            minutes=data.get("minutes"),
            decisions=data.get("decisions"),
            now=utcnow(),
            settings=settings(),
        )
    return render_as(shapes.MeetingDetail, _detail(h.find_meeting(meeting.id), me))


@bp.post("/meetings/<id:meeting_id>/cancel")
@operation(
    "Cancel a meeting (managers); attendance already recorded stays",
    {200: (shapes.MeetingDetail, "Cancelled")},
    errors=MANAGER,
)
def meeting_cancel(meeting_id: int) -> Response:
    """Cancel a meeting (取消会议 in the bot); attendance already recorded stays."""
    body()
    me = member()
    meeting = _managed(me, meeting_id)
    with write_tx():
        h.cancel_meeting(me, meeting.id, now=utcnow())
    return render_as(shapes.MeetingDetail, _detail(h.find_meeting(meeting.id), me))


def _qr(meeting: Meeting, now: datetime, cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The meeting's sign-in QR code, made now if the meeting_qr job has not made it yet.

    The code works without it: a WeChat failure answers None (and is logged).
    """
    live = meeting.qr_expires_at is None or meeting.qr_expires_at > now
    if not (meeting.qr_ticket and meeting.qr_url and live):
        try:
            h.make_qr(meeting, now, cfg, partial(create_meeting_qr, cfg))
        except (WeChatApiError, ValueError) as exc:
            log.warning("QR code for meeting %s failed: %s", meeting.id, exc)
            return None
    return {
        "ticket": meeting.qr_ticket,
        "url": meeting.qr_url,
        "expires_at": iso(meeting.qr_expires_at),
    }


@bp.post("/meetings/<id:meeting_id>/signin-code")
@operation(
    "Open sign-in (managers): the code, its window and the sign-in QR code",
    {200: (shapes.MeetingSigninCode, "Sign-in open")},
    errors=MANAGER,
    description="Only inside the sign-in window (422 signin_not_open / signin_closed). The "
    "same code comes back on every call.",
)
def meeting_open_signin(meeting_id: int) -> Response:
    """Open sign-in (开始签到 in the bot): the code, its window, and the QR code."""
    body()
    me = member()
    meeting = _managed(me, meeting_id)
    cfg = settings()
    now = utcnow()
    with write_tx():
        meeting = h.open_signin(me, meeting.id, now=now, settings=cfg)
    opens, closes = h.signin_window(meeting, cfg)
    return render_as(
        shapes.MeetingSigninCode,
        {
            "meeting": _summary(meeting, me),
            "code": meeting.signin_code,
            "opens_at": iso(opens),
            "closes_at": iso(closes),
            "qr": _qr(meeting, now, cfg),
        },
    )


@bp.post("/meetings/<id:meeting_id>/attendance")
@operation(
    "补签: record expected members present by hand (managers)",
    {200: (shapes.MeetingMarkResponse, "Recorded")},
    errors=MANAGER,
    json=shapes.MeetingMarkRequest,
    description="All or none: a member not expected refuses the request (422 not_expected).",
)
def meeting_mark(meeting_id: int) -> Response:
    """补签: record expected members present by hand, with who did it."""
    ids = body(shapes.MeetingMarkRequest)["member_ids"]
    me = member()
    meeting = _managed(me, meeting_id)
    with write_tx():
        results = h.mark_present_members(me, meeting.id, ids, now=utcnow(), settings=settings())
    items = [{"created": r.created, "attendance": _record(r.attendance)} for r in results]
    return render_as(
        shapes.MeetingMarkResponse, {"meeting": _summary(meeting, me), "items": items}
    )


@bp.get("/meetings/<id:meeting_id>/attendance")
@operation(
    "The attendance report (managers): present, leave, absent, rate, quorum",
    {200: (shapes.MeetingReport, "The report")},
    errors=MEMBER,
)
def meeting_report(meeting_id: int) -> Response:
    """Present / on leave / absent with names, the rate, and quorum (会议 情况 in the bot)."""
    query()
    me = member()
    meeting = _managed(me, meeting_id)
    report = h.attendance_report(meeting, now=utcnow())
    rows = {a.member_id: a for a in Attendance.select().where(Attendance.meeting == meeting.id)}

    def present(m: Member) -> dict[str, Any]:
        row = rows[m.id]
        return {"id": m.id, "name": m.name, "method": row.method or None, "at": iso(row.at)}

    def with_reason(pairs: list[tuple[Member, str]]) -> list[dict[str, Any]]:
        return [{"id": m.id, "name": m.name, "reason": reason} for m, reason in pairs]

    quorum = None
    if report.quorum_needed is not None:
        quorum = {
            "voters": "committee" if meeting.kind == "committee" else "full_members",
            "needed": report.quorum_needed,
            "present": report.quorum_present,
            "met": bool(report.quorum_met),
        }
    return render_as(
        shapes.MeetingReport,
        {
            "meeting": _summary(meeting, me),
            "ended": report.ended,
            "expected_count": len(report.expected),
            "present_count": len(report.present),
            "rate": report.rate,
            "present": [present(m) for m in report.present],
            "leave_approved": with_reason(report.leave_approved),
            "leave_pending": with_reason(report.leave_pending),
            "leave_rejected": with_reason(report.leave_rejected),
            "absent": [_person(m) for m in report.not_signed],
            "quorum": quorum,
        },
    )


@bp.get("/meetings/<id:meeting_id>/leaves")
@operation(
    "The meeting's leave requests, pending and decided (managers)",
    {200: (shapes.MeetingLeaves, "Leave requests")},
    errors=MEMBER,
)
def meeting_leaves(meeting_id: int) -> Response:
    """The meeting's leave requests: pending ones, and those decided."""
    query()
    me = member()
    meeting = _managed(me, meeting_id)
    rows = list(
        Attendance.select()
        .where(Attendance.meeting == meeting.id, Attendance.status == "leave")
        .order_by(Attendance.at, Attendance.id)
    )
    people = _people(i for r in rows for i in (r.member_id, r.decided_by_id))
    return render_as(
        shapes.MeetingLeaves,
        {
            "meeting": _summary(meeting, me),
            "pending": [_leave(r, people) for r in rows if r.leave_status == "pending"],
            "decided": [_leave(r, people) for r in rows if r.leave_status != "pending"],
        },
    )


@bp.post("/meetings/leaves/<id:leave_id>/decision")
@operation(
    "Approve or reject a pending leave request (managers)",
    {200: (shapes.MeetingLeave, "Decided")},
    errors=(*MEMBER, "409", "422"),
    json=shapes.MeetingDecisionRequest,
    description="Only a pending request of a meeting that is scheduled and has not ended can "
    "be decided, and only once. A decided request answers 409 leave_decided; refusals (422): "
    "already_signed_in, meeting_cancelled, meeting_ended.",
)
def meeting_leave_decision(leave_id: int) -> Response:
    """Approve or reject a pending leave request of a meeting that has not ended (批准请假 /
    驳回请假 in the bot, the same handler rule); a decided one is 409."""
    approve = body(shapes.MeetingDecisionRequest)["approve"]
    me = member()
    row = h.leave_request(leave_id)
    if row is None:
        raise not_found()
    _check_managed(me, row.meeting)
    with write_tx():
        row = h.decide_leave_by_id(me, leave_id, approve, now=utcnow(), settings=settings())
    return render_as(shapes.MeetingLeave, _leave(row, _people([row.member_id, row.decided_by_id])))
