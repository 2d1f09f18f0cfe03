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

from flask import Response, jsonify

from api import auth
from api.common import (
    DEFAULT_LIMIT,
    PAGE_FIELDS,
    Field,
    body,
    bp,
    day_text,
    iso,
    member,
    query,
    settings,
    tz,
)
from api.errors import ApiError
from api.spec import (
    BEARER,
    BOOL,
    DAY,
    ID,
    PAGE_PARAMS,
    STR,
    TIME,
    TIME_IN,
    array,
    errors,
    json_body,
    nullable,
    obj,
    ok,
    page_of,
    param,
    path_id,
    ref,
)
from bot.clients import WeChatApiError, create_meeting_qr
from core.clock import utcnow
from handlers import meetings as h
from models.meetings import KINDS

STATUS_LABELS = {"scheduled": "已安排", "cancelled": "已取消"}
# The caller's attendance at a meeting.
STATES = ("present", "leave_pending", "leave_approved", "leave_rejected", "none")
METHODS = ("code", "qr", "manual", "api")
MAX_DURATION_MINUTES = 24 * 60
MAX_MARK = 200  # member ids in one 补签 request


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

LIST_FIELDS: dict[str, Field] = {
    **PAGE_FIELDS,
    "branch_id": Field(required=False, kind="int", minimum=1),
}


@bp.get("/meetings")
def meetings_list() -> Response:
    """Meetings of the branch that have not ended yet (cancelled ones too), soonest first."""
    args = query(LIST_FIELDS)
    me = member()
    page = h.meetings_page(me, args.get("branch_id"), now=utcnow(), **_paging(args))
    return jsonify(_page(page))


@bp.get("/meetings/<id:meeting_id>")
def meeting_detail(meeting_id: int) -> Response:
    query({})
    me = member()
    return jsonify(_detail(h.meeting_detail(me, meeting_id, now=utcnow(), settings=settings())))


SIGNIN_FIELDS: dict[str, Field] = {
    "code": Field(required=False, max_len=32),
    "scene": Field(required=False, max_len=64),
}


@bp.post("/meetings/signin")
def meeting_signin() -> tuple[Response, int]:
    """Sign in with the code read out (签到 in the bot) or a scanned sign-in scene."""
    data = body(SIGNIN_FIELDS)
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
    return jsonify(answer), 201 if result.created else 200


@bp.post("/meetings/<id:meeting_id>/leave")
def meeting_leave(meeting_id: int) -> tuple[Response, int]:
    """Ask leave for an upcoming meeting (请假 in the bot); asking again replaces the reason."""
    reason = body({"reason": Field(max_len=200)})["reason"]
    me = member()
    asked = h.request_leave(me, meeting_id, reason, now=utcnow(), settings=settings())
    answer = {"meeting": _summary(asked.summary), "attendance": _record(asked.record)}
    return jsonify(answer), 200 if asked.asked_before else 201


@bp.get("/meetings/attendance")
def meetings_mine() -> Response:
    """This quarter's attended / held meetings, and my past meetings with my state."""
    args = query(PAGE_FIELDS)
    me = member()
    mine = h.my_attendance(me, now=utcnow(), tz=tz(), **_paging(args))
    quarter = {
        "start": day_text(mine.quarter_start),
        "attended": mine.attended,
        "held": mine.held,
        "rate": mine.rate,
    }
    return jsonify({"quarter": quarter, **_page(mine.past)})


# ---- manager routes -------------------------------------------------------------------------

CREATE_FIELDS: dict[str, Field] = {
    "kind": Field(max_len=20, choices=tuple(KINDS)),
    "title": Field(required=False, max_len=200),
    "place": Field(required=False, max_len=200),
    "starts_at": Field(kind="time"),
    "ends_at": Field(required=False, kind="time"),
    "duration_minutes": Field(required=False, kind="int", minimum=1, maximum=MAX_DURATION_MINUTES),
    "host_id": Field(required=False, kind="int", minimum=1),
    "recorder_id": Field(required=False, kind="int", minimum=1),
    "group_id": Field(required=False, kind="int", minimum=1),
    "branch_id": Field(required=False, kind="int", minimum=1),
}


@bp.post("/meetings")
def meeting_create() -> tuple[Response, int]:
    """Schedule a meeting (会议 … in the bot); expected attendees are fixed now."""
    data = body(CREATE_FIELDS)
    me = member()
    start = data.pop("starts_at")
    scheduled = h.schedule_meeting(me, start=start, now=utcnow(), settings=settings(), **data)
    return jsonify(_detail(scheduled)), 201


EDIT_FIELDS: dict[str, Field] = {
    "title": Field(required=False, max_len=200),
    "place": Field(required=False, max_len=200),
    "starts_at": Field(required=False, kind="time"),
    "ends_at": Field(required=False, kind="time"),
    "duration_minutes": Field(required=False, kind="int", minimum=1, maximum=MAX_DURATION_MINUTES),
    "host_id": Field(required=False, kind="int", minimum=1),
    "recorder_id": Field(required=False, kind="int", minimum=1),
    "minutes": Field(required=False, max_len=h.MINUTES_MAX_CHARS, multiline=True),
    "decisions": Field(required=False, max_len=h.MINUTES_MAX_CHARS, multiline=True),
}


@bp.patch("/meetings/<id:meeting_id>")
def meeting_edit(meeting_id: int) -> Response:
    """Change a meeting (修改会议 in the bot); attendance already recorded stays."""
    data = body(EDIT_FIELDS)
    if not data:
        raise ApiError(400, "missing_field", "请至少提供一个要修改的字段。")
    me = member()
    start = data.pop("starts_at", None)
    changed = h.change_meeting(
        me, meeting_id, start=start, now=utcnow(), settings=settings(), **data
    )
    return jsonify(_detail(changed))


@bp.post("/meetings/<id:meeting_id>/cancel")
def meeting_cancel(meeting_id: int) -> Response:
    """Cancel a meeting (取消会议 in the bot); attendance already recorded stays."""
    body({})
    me = member()
    return jsonify(_detail(h.call_off_meeting(me, meeting_id, now=utcnow(), settings=settings())))


@bp.post("/meetings/<id:meeting_id>/signin-code")
def meeting_open_signin(meeting_id: int) -> Response:
    """Open sign-in (开始签到 in the bot): the code, its window, and the QR code.

    The QR code is made now if the meeting_qr job has not made it yet; the code works
    without it (a WeChat failure answers null, and is logged).
    """
    body({})
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
    return jsonify(
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
        }
    )


@bp.post("/meetings/<id:meeting_id>/attendance")
def meeting_mark(meeting_id: int) -> Response:
    """补签: record expected members present by hand, with who did it."""
    ids = body({"member_ids": Field(kind="ids", max_len=MAX_MARK)})["member_ids"]
    me = member()
    marked = h.record_present_by_hand(me, meeting_id, ids, now=utcnow(), settings=settings())
    items = [{"created": created, "attendance": _record(r)} for created, r in marked.items]
    return jsonify({"meeting": _summary(marked.summary), "items": items})


@bp.get("/meetings/<id:meeting_id>/attendance")
def meeting_report(meeting_id: int) -> Response:
    """Present / on leave / absent with names, the rate, and quorum (会议 情况 in the bot)."""
    query({})
    me = member()
    return jsonify(_report(h.attendance_sheet(me, meeting_id, now=utcnow())))


@bp.get("/meetings/<id:meeting_id>/leaves")
def meeting_leaves(meeting_id: int) -> Response:
    """The meeting's leave requests: pending ones, and those decided."""
    query({})
    me = member()
    leaves = h.leave_requests(me, meeting_id)
    return jsonify(
        {
            "meeting": _summary(leaves.summary),
            "pending": [_leave(r) for r in leaves.pending],
            "decided": [_leave(r) for r in leaves.decided],
        }
    )


@bp.post("/meetings/leaves/<id:leave_id>/decision")
def meeting_leave_decision(leave_id: int) -> Response:
    """Approve or reject a pending leave request of a meeting that has not ended (批准请假 /
    驳回请假 in the bot, the same handler rule); a decided one is 409."""
    approve = body({"approve": Field(kind="bool")})["approve"]
    me = member()
    decided = h.decide_leave_request(me, leave_id, approve, now=utcnow(), settings=settings())
    return jsonify(_leave(decided))


# ---- OpenAPI --------------------------------------------------------------------------------

PERSON = ref("MeetingPerson")
RATE = {"type": "number", "minimum": 0, "maximum": 1}
NULL_STR = nullable(STR)
NULL_TIME = nullable(TIME)
NULL_PERSON = nullable(PERSON)

SUMMARY_PROPS: dict[str, Any] = {
    "id": ID,
    "branch_id": ID,
    "kind": {"type": "string", "enum": list(KINDS)},
    "kind_label": STR,
    "title": STR,
    "place": STR,
    "starts_at": TIME,
    "ends_at": TIME,
    "status": {"type": "string", "enum": list(STATUS_LABELS)},
    "status_label": STR,
    "group": nullable(obj({"id": ID, "name": STR})),
    "expected": {**BOOL, "description": "Whether the caller is expected to attend."},
    "my_state": {
        "type": "string",
        "enum": list(STATES),
        "description": "The caller's attendance: present, on leave (and the decision), none.",
    },
}
DURATION_IN = {"type": "integer", "minimum": 1, "maximum": MAX_DURATION_MINUTES}
TEXT_200 = {"type": "string", "maxLength": 200}
MINUTES_IN = {"type": "string", "maxLength": h.MINUTES_MAX_CHARS}

SCHEMAS: dict[str, Any] = {
    "MeetingPerson": obj({"id": ID, "name": STR}),
    "MeetingSummary": obj(SUMMARY_PROPS),
    "MeetingPage": page_of("MeetingSummary"),
    "MeetingDetail": obj(
        {
            **SUMMARY_PROPS,
            "host": NULL_PERSON,
            "recorder": NULL_PERSON,
            "expected_count": {"type": "integer", "minimum": 0},
            "signin": obj({"opens_at": TIME, "closes_at": TIME, "open": BOOL}),
            "mine": obj(
                {
                    "at": {**NULL_TIME, "description": "When I signed in or asked leave."},
                    "method": nullable({"type": "string", "enum": list(METHODS)}),
                    "leave_reason": NULL_STR,
                }
            ),
            "can_manage": BOOL,
            "minutes": {**NULL_STR, "description": "Only for those who manage the branch."},
            "decisions": {**NULL_STR, "description": "Only for those who manage the branch."},
        }
    ),
    "MeetingAttendance": obj(
        {
            "id": ID,
            "meeting_id": ID,
            "member": PERSON,
            "status": {"type": "string", "enum": ["present", "leave"]},
            "method": nullable({"type": "string", "enum": list(METHODS)}),
            "at": TIME,
            "recorded_by": {**NULL_PERSON, "description": "Who recorded a 补签."},
            "leave_reason": NULL_STR,
            "leave_status": nullable(
                {"type": "string", "enum": ["pending", "approved", "rejected"]}
            ),
            "decided_by": NULL_PERSON,
        }
    ),
    "MeetingSigninRequest": {
        **obj(
            {
                "code": {"type": "string", "minLength": 1, "maxLength": 32},
                "scene": {"type": "string", "minLength": 1, "maxLength": 64},
            },
            [],
        ),
        "description": "Exactly one of code (read out by the secretary) or scene (scanned).",
    },
    "MeetingSigninResponse": obj(
        {"created": BOOL, "meeting": ref("MeetingSummary"), "attendance": ref("MeetingAttendance")}
    ),
    "MeetingLeaveRequest": obj({"reason": {"type": "string", "minLength": 1, "maxLength": 200}}),
    "MeetingLeaveResponse": obj(
        {"meeting": ref("MeetingSummary"), "attendance": ref("MeetingAttendance")}
    ),
    "MeetingMine": obj(
        {
            "quarter": obj(
                {
                    "start": DAY,
                    "attended": {"type": "integer", "minimum": 0},
                    "held": {"type": "integer", "minimum": 0},
                    "rate": {**nullable(RATE), "description": "null when none was held"},
                }
            ),
            "items": array(ref("MeetingSummary")),
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100},
            "offset": {"type": "integer", "minimum": 0},
        }
    ),
    "MeetingCreateRequest": obj(
        {
            "kind": {"type": "string", "enum": list(KINDS)},
            "title": TEXT_200,
            "place": TEXT_200,
            "starts_at": TIME_IN,
            "ends_at": {**TIME_IN, "description": "Or duration_minutes; default from settings."},
            "duration_minutes": DURATION_IN,
            "host_id": ID,
            "recorder_id": ID,
            "group_id": {**ID, "description": "Required for kind group."},
            "branch_id": {**ID, "description": "Committee admins: another branch to act for."},
        },
        ["kind", "starts_at"],
    ),
    "MeetingEditRequest": {
        **obj(
            {
                "title": TEXT_200,
                "place": TEXT_200,
                "starts_at": TIME_IN,
                "ends_at": TIME_IN,
                "duration_minutes": DURATION_IN,
                "host_id": ID,
                "recorder_id": ID,
                "minutes": MINUTES_IN,
                "decisions": MINUTES_IN,
            },
            [],
        ),
        "minProperties": 1,
    },
    "MeetingSigninCode": obj(
        {
            "meeting": ref("MeetingSummary"),
            "code": {"type": "string", "pattern": r"^\d+$"},
            "opens_at": TIME,
            "closes_at": TIME,
            "qr": {
                **nullable(obj({"ticket": STR, "url": STR, "expires_at": TIME})),
                "description": "null when WeChat could not make it now; the code still works.",
            },
        }
    ),
    "MeetingMarkRequest": obj(
        {"member_ids": array(ID, minItems=1, maxItems=MAX_MARK)},
    ),
    "MeetingMarkResponse": obj(
        {
            "meeting": ref("MeetingSummary"),
            "items": array(obj({"created": BOOL, "attendance": ref("MeetingAttendance")})),
        }
    ),
    "MeetingReport": obj(
        {
            "meeting": ref("MeetingSummary"),
            "ended": BOOL,
            "expected_count": {"type": "integer", "minimum": 0},
            "present_count": {"type": "integer", "minimum": 0},
            "rate": RATE,
            "present": array(
                obj(
                    {
                        "id": ID,
                        "name": STR,
                        "method": nullable({"type": "string", "enum": list(METHODS)}),
                        "at": TIME,
                    }
                )
            ),
            "leave_approved": array(ref("MeetingReportLeave")),
            "leave_pending": array(ref("MeetingReportLeave")),
            "leave_rejected": array(ref("MeetingReportLeave")),
            "absent": {
                **array(PERSON),
                "description": "Not signed in (absent once the meeting ended), pending or "
                "rejected leave included.",
            },
            "quorum": {
                **nullable(
                    obj(
                        {
                            "voters": {"type": "string", "enum": ["committee", "full_members"]},
                            "needed": {"type": "integer", "minimum": 1},
                            "present": {"type": "integer", "minimum": 0},
                            "met": BOOL,
                        }
                    )
                ),
                "description": "For general and committee meetings only.",
            },
        }
    ),
    "MeetingReportLeave": obj({"id": ID, "name": STR, "reason": STR}),
    "MeetingLeave": obj(
        {
            "id": ID,
            "meeting_id": ID,
            "member": PERSON,
            "reason": STR,
            "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
            "asked_at": TIME,
            "decided_by": NULL_PERSON,
        }
    ),
    "MeetingLeaves": obj(
        {
            "meeting": ref("MeetingSummary"),
            "pending": array(ref("MeetingLeave")),
            "decided": array(ref("MeetingLeave")),
        }
    ),
    "MeetingDecisionRequest": obj({"approve": BOOL}),
}

MEETING_ID = path_id("meeting_id")
REFUSALS = errors("400", "401", "403", "422")

PATHS: dict[str, Any] = {
    "/api/v1/meetings": {
        "get": {
            "summary": "Meetings of my branch that have not ended (cancelled ones too)",
            "description": "Each with whether I am expected and my attendance. Committee admins "
            "and branch managers may pass branch_id of a branch they act for.",
            "security": BEARER,
            "parameters": [
                *PAGE_PARAMS,
                param("branch_id", ID, description="A branch the caller manages."),
            ],
            "responses": {"200": ok("MeetingPage", "Meetings"), **errors("400", "401", "403")},
        },
        "post": {
            "summary": "Schedule a meeting (managers)",
            "security": BEARER,
            "requestBody": json_body("MeetingCreateRequest"),
            "responses": {"201": ok("MeetingDetail", "Scheduled"), **REFUSALS},
        },
    },
    "/api/v1/meetings/{meeting_id}": {
        "get": {
            "summary": "A meeting of my branch: host, recorder, expected count, my state, window",
            "security": BEARER,
            "parameters": [MEETING_ID],
            "responses": {
                "200": ok("MeetingDetail", "The meeting"),
                **errors("400", "401", "403"),
            },
        },
        "patch": {
            "summary": "Change a meeting (managers); attendance already recorded stays",
            "security": BEARER,
            "parameters": [MEETING_ID],
            "requestBody": json_body("MeetingEditRequest"),
            "responses": {"200": ok("MeetingDetail", "Changed"), **REFUSALS},
        },
    },
    "/api/v1/meetings/signin": {
        "post": {
            "summary": "Sign in with the code read out, or a scanned sign-in scene",
            "description": "Refusals (422) carry stable errcodes: wrong_code, signin_not_open, "
            "signin_closed, meeting_cancelled, not_expected, qr_invalid. Too many wrong codes "
            "in an hour, or too many attempts in a minute, answer 429.",
            "security": BEARER,
            "requestBody": json_body("MeetingSigninRequest"),
            "responses": {
                "201": ok("MeetingSigninResponse", "Signed in"),
                "200": ok("MeetingSigninResponse", "Already signed in; nothing changed"),
                **errors("400", "401", "403", "422", "429"),
            },
        }
    },
    "/api/v1/meetings/{meeting_id}/leave": {
        "post": {
            "summary": "Ask leave for an upcoming meeting I am expected at",
            "description": "Refusals (422): leave_closed (started), meeting_cancelled, "
            "not_expected, already_signed_in.",
            "security": BEARER,
            "parameters": [MEETING_ID],
            "requestBody": json_body("MeetingLeaveRequest"),
            "responses": {
                "201": ok("MeetingLeaveResponse", "Leave asked"),
                "200": ok("MeetingLeaveResponse", "Asked again: reason replaced, pending again"),
                **REFUSALS,
            },
        }
    },
    "/api/v1/meetings/attendance": {
        "get": {
            "summary": "My attendance this quarter and my past meetings with my state",
            "security": BEARER,
            "parameters": PAGE_PARAMS,
            "responses": {
                "200": ok("MeetingMine", "My attendance"),
                **errors("400", "401", "403"),
            },
        }
    },
    "/api/v1/meetings/{meeting_id}/cancel": {
        "post": {
            "summary": "Cancel a meeting (managers); attendance already recorded stays",
            "security": BEARER,
            "parameters": [MEETING_ID],
            "responses": {"200": ok("MeetingDetail", "Cancelled"), **REFUSALS},
        }
    },
    "/api/v1/meetings/{meeting_id}/signin-code": {
        "post": {
            "summary": "Open sign-in (managers): the code, its window and the sign-in QR code",
            "description": "Only inside the sign-in window (422 signin_not_open / "
            "signin_closed). The same code comes back on every call.",
            "security": BEARER,
            "parameters": [MEETING_ID],
            "responses": {"200": ok("MeetingSigninCode", "Sign-in open"), **REFUSALS},
        }
    },
    "/api/v1/meetings/{meeting_id}/attendance": {
        "get": {
            "summary": "The attendance report (managers): present, leave, absent, rate, quorum",
            "security": BEARER,
            "parameters": [MEETING_ID],
            "responses": {"200": ok("MeetingReport", "The report"), **errors("400", "401", "403")},
        },
        "post": {
            "summary": "补签: record expected members present by hand (managers)",
            "description": "All or none: a member not expected refuses the request (422 "
            "not_expected).",
            "security": BEARER,
            "parameters": [MEETING_ID],
            "requestBody": json_body("MeetingMarkRequest"),
            "responses": {"200": ok("MeetingMarkResponse", "Recorded"), **REFUSALS},
        },
    },
    "/api/v1/meetings/{meeting_id}/leaves": {
        "get": {
            "summary": "The meeting's leave requests, pending and decided (managers)",
            "security": BEARER,
            "parameters": [MEETING_ID],
            "responses": {
                "200": ok("MeetingLeaves", "Leave requests"),
                **errors("400", "401", "403"),
            },
        }
    },
    "/api/v1/meetings/leaves/{leave_id}/decision": {
        "post": {
            "summary": "Approve or reject a pending leave request (managers)",
            "description": "Only a pending request of a meeting that is scheduled and has not "
            "ended can be decided, and only once. A decided request answers 409 leave_decided; "
            "refusals (422): already_signed_in, meeting_cancelled, meeting_ended.",
            "security": BEARER,
            "parameters": [path_id("leave_id")],
            "requestBody": json_body("MeetingDecisionRequest"),
            "responses": {
                "200": ok("MeetingLeave", "Decided"),
                **errors("400", "401", "403", "409", "422"),
            },
        }
    },
}
