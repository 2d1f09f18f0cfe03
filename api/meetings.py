"""/api/v1 routes: meetings.

Members: their branch's upcoming meetings, a meeting's detail, sign-in by code or scanned scene,
leave requests, their own attendance. Managers (handlers.meetings.can_manage: the branch's
secretary, deputy secretary or organizer; a committee admin for the committee's branches):
schedule, edit, cancel, open sign-in (code and QR), 补签, the attendance report, leave
decisions. Every write calls the handler the bot's meeting commands call.

A meeting id of a branch the caller may not see answers 404; a meeting of the caller's own
branch on a manager route answers 403 to a plain member.

Each view parses its input, calls one use case of handlers.meetings and renders its answer.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Response

from api import auth
from api.common import (
    DEFAULT_LIMIT,
    body,
    bp,
    day_text,
    iso,
    member,
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

# ---- representations ------------------------------------------------------------------------


def _person(p: h.Person | None) -> dict[str, Any] | None:
    return {"id": p.id, "name": p.name} if p is not None else None


def _summary(s: h.Summary) -> dict[str, Any]:
    """A meeting as a list item, with whether the caller is expected and their state."""
    m = s.meeting
    return {
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
        "group": _person(s.group),
        "expected": s.expected,
        "my_state": s.my_state,
    }


def _detail(d: h.Detail) -> dict[str, Any]:
    meeting, row = d.summary.meeting, d.mine
    return {
        **_summary(d.summary),
        "host": _person(d.host),
        "recorder": _person(d.recorder),
        "expected_count": d.expected_count,
        "signin": {"opens_at": iso(d.opens), "closes_at": iso(d.closes), "open": d.open},
        "mine": {
            "at": iso(row.at) if row else None,
            "method": (row.method or None) if row and row.status == "present" else None,
            "leave_reason": (row.leave_reason or None) if row else None,
        },
        "can_manage": d.can_manage,
        "minutes": meeting.minutes if d.can_manage else None,
        "decisions": meeting.decisions if d.can_manage else None,
    }


def _record(r: h.Record) -> dict[str, Any]:
    """One attendance row: present (how, by whom) or on leave (why, decided by whom)."""
    row = r.row
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "member": _person(r.member),
        "status": row.status,
        "method": row.method or None,
        "at": iso(row.at),
        "recorded_by": _person(r.recorded_by),
        "leave_reason": row.leave_reason or None,
        "leave_status": row.leave_status or None,
        "decided_by": _person(r.decided_by),
    }


def _leave(r: h.Record) -> dict[str, Any]:
    row = r.row
    return {
        "id": row.id,
        "meeting_id": row.meeting_id,
        "member": _person(r.member),
        "reason": row.leave_reason,
        "status": row.leave_status,
        "asked_at": iso(row.at),
        "decided_by": _person(r.decided_by),
    }


def _page(page: h.Page) -> dict[str, Any]:
    return {
        "items": [_summary(s) for s in page.items],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
    }


def _report(sheet: h.Sheet) -> dict[str, Any]:
    report, meeting = sheet.report, sheet.summary.meeting

    def present(m: Any) -> dict[str, Any]:
        row = sheet.signed[m.id]
        return {"id": m.id, "name": m.name, "method": row.method or None, "at": iso(row.at)}

    def with_reason(pairs: list[tuple[Any, str]]) -> list[dict[str, Any]]:
        return [{"id": m.id, "name": m.name, "reason": reason} for m, reason in pairs]

    quorum = None
    if report.quorum_needed is not None:
        quorum = {
            "voters": "committee" if meeting.kind == "committee" else "full_members",
            "needed": report.quorum_needed,
            "present": report.quorum_present,
            "met": bool(report.quorum_met),
        }
    return {
        "meeting": _summary(sheet.summary),
        "ended": report.ended,
        "expected_count": len(report.expected),
        "present_count": len(report.present),
        "rate": report.rate,
        "present": [present(m) for m in report.present],
        "leave_approved": with_reason(report.leave_approved),
        "leave_pending": with_reason(report.leave_pending),
        "leave_rejected": with_reason(report.leave_rejected),
        "absent": [{"id": m.id, "name": m.name} for m in report.not_signed],
        "quorum": quorum,
    }


def _paging(args: dict[str, Any]) -> dict[str, int]:
    return {"limit": args.get("limit", DEFAULT_LIMIT), "offset": args.get("offset", 0)}


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
    page = h.meetings_page(me, args.get("branch_id"), now=utcnow(), **_paging(args))
    return render_as(shapes.MeetingPage, _page(page))


@bp.get("/meetings/<id:meeting_id>")
@operation(
    "A meeting of my branch: host, recorder, expected count, my state, window",
    {200: (shapes.MeetingDetail, "The meeting")},
    errors=MEMBER,
)
def meeting_detail(meeting_id: int) -> Response:
    query()
    me = member()
    return render_as(
        shapes.MeetingDetail,
        _detail(h.meeting_detail(me, meeting_id, now=utcnow(), settings=settings())),
    )


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
    auth.rate_limit(f"api-signin:member:{me.id}", cfg.api.signin_rate_per_minute, now)
    result = h.member_sign_in(me, now=now, settings=cfg, **{name: value})
    answer = {
        "created": result.created,
        "meeting": _summary(result.summary),
        "attendance": _record(result.record),
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
    asked = h.request_leave(me, meeting_id, reason, now=utcnow(), settings=settings())
    answer = {"meeting": _summary(asked.summary), "attendance": _record(asked.record)}
    return render_as(shapes.MeetingLeaveResponse, answer), 200 if asked.asked_before else 201


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
    mine = h.my_attendance(me, now=utcnow(), tz=tz(), **_paging(args))
    quarter = {
        "start": day_text(mine.quarter_start),
        "attended": mine.attended,
        "held": mine.held,
        "rate": mine.rate,
    }
    return render_as(shapes.MeetingMine, {"quarter": quarter, **_page(mine.past)})


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
    start = data.pop("starts_at")
    scheduled = h.schedule_meeting(me, start=start, now=utcnow(), settings=settings(), **data)
    return render_as(shapes.MeetingDetail, _detail(scheduled)), 201


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
    start = data.pop("starts_at", None)
    changed = h.change_meeting(
        me, meeting_id, start=start, now=utcnow(), settings=settings(), **data
    )
    return render_as(shapes.MeetingDetail, _detail(changed))


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
    return render_as(
        shapes.MeetingDetail,
        _detail(h.call_off_meeting(me, meeting_id, now=utcnow(), settings=settings())),
    )


@bp.post("/meetings/<id:meeting_id>/signin-code")
@operation(
    "Open sign-in (managers): the code, its window and the sign-in QR code",
    {200: (shapes.MeetingSigninCode, "Sign-in open")},
    errors=MANAGER,
    description="Only inside the sign-in window (422 signin_not_open / signin_closed). The "
    "same code comes back on every call.",
)
def meeting_open_signin(meeting_id: int) -> Response:
    """Open sign-in (开始签到 in the bot): the code, its window, and the QR code.

    The QR code is made now if the meeting_qr job has not made it yet; the code works
    without it (a WeChat failure answers null, and is logged).
    """
    body()
    me = member()
    cfg = settings()
    opened = h.start_signin(
        me,
        meeting_id,
        now=utcnow(),
        settings=cfg,
        create=partial(create_meeting_qr, cfg),
        qr_failures=(WeChatApiError, ValueError),
    )
    qr = opened.qr
    return render_as(
        shapes.MeetingSigninCode,
        {
            "meeting": _summary(opened.summary),
            "code": opened.code,
            "opens_at": iso(opened.opens),
            "closes_at": iso(opened.closes),
            "qr": (
                {"ticket": qr.ticket, "url": qr.url, "expires_at": iso(qr.expires_at)}
                if qr is not None
                else None
            ),
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
    marked = h.record_present_by_hand(me, meeting_id, ids, now=utcnow(), settings=settings())
    items = [{"created": created, "attendance": _record(r)} for created, r in marked.items]
    return render_as(
        shapes.MeetingMarkResponse, {"meeting": _summary(marked.summary), "items": items}
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
    sheet = h.attendance_sheet(me, meeting_id, now=utcnow())
    return render_as(shapes.MeetingReport, _report(sheet))


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
    leaves = h.leave_requests(me, meeting_id)
    return render_as(
        shapes.MeetingLeaves,
        {
            "meeting": _summary(leaves.summary),
            "pending": [_leave(r) for r in leaves.pending],
            "decided": [_leave(r) for r in leaves.decided],
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
    decided = h.decide_leave_request(me, leave_id, approve, now=utcnow(), settings=settings())
    return render_as(shapes.MeetingLeave, _leave(decided))
