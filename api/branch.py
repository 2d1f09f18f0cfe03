"""/api/v1 routes for branch managers and committee admins, and a member's subscribe credits.

Managers (models.org.BRANCH_MANAGERS for their own branch; committee admins for every branch of
their committee, chosen with ``branch_id``): the branch overview, the member list, binding codes
and unbinding. Committee admins: the headline figures of every branch of their committee. Every
member: the subscribe-message credits their mini-program reports.

Binding codes are answered per member: the codes issued, and the members refused with a reason
(already bound, or no longer a party member). A member id outside the branch answers 404 and
nothing is issued.

Subscribe credits: only the template in ``channels.subscribe_template_id`` is counted (one
credit per template per report, as one wx.requestSubscribeMessage call accepts a template at
most once); other template ids are ignored and listed back as ``ignored``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, jsonify

from api.branch_json import (
    ALERT_LIST_MAX,
    STATUS_RANK,
    alerts_json,
    committee_item,
    dues_json,
    meeting_kinds_json,
    member_item,
    member_ref,
    study_json,
)
from api.common import (
    DEFAULT_LIMIT,
    PAGE_FIELDS,
    Field,
    body,
    bp,
    branch_for,
    day_text,
    iso,
    member,
    query,
    session,
)
from api.common import settings as _settings
from api.errors import ApiError
from api.spec import (
    BEARER,
    BOOL,
    BRANCH_PARAM,
    DAY,
    FEN,
    ID,
    INT,
    MONTH,
    PAGE_PARAMS,
    STR,
    TIME,
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
from core.clock import utcnow
from handlers import overview
from handlers.binding import format_code
from handlers.calendar import DUE
from handlers.roster.codes import REFUSALS, issue_branch_codes
from handlers.roster.members import list_members, unbind_member
from handlers.subscribe import credits_of, report_accepted
from models.org import BRANCH_MANAGERS, STATUSES

log = logging.getLogger(__name__)

# Members per binding-code request.
MAX_CODE_MEMBERS = 100
# Template ids per subscribe report (wx.requestSubscribeMessage takes a few at a time).
MAX_TEMPLATES = 20
TEMPLATE_ID_MAX = 128
Q_MAX = 50

BRANCH_FIELD = Field(required=False, kind="int", minimum=1)


# ---- paging -----------------------------------------------------------------------------------


def _window(args: dict[str, Any]) -> tuple[int, int]:
    """The page asked for: (limit, offset), handed to the handler that cuts the page.

    These lists are pages of figures computed for all branches at once, or of a filtered
    member query with an is_bound column: the handler owns the query, so it cuts the page and
    counts the total; api.common.paginate stays for views that page a plain query.
    """
    return args.get("limit", DEFAULT_LIMIT), args.get("offset", 0)


def _page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "total": total, "limit": limit, "offset": offset}


# ---- manager routes -------------------------------------------------------------------------


@bp.get("/branch/overview")
def branch_overview() -> Response:
    """This month at a glance: study rate, required meetings, dues, and the digest's alerts."""
    args = query({"branch_id": BRANCH_FIELD})
    branch = branch_for(member(), args.get("branch_id"), BRANCH_MANAGERS)
    settings = _settings()
    view = overview.branch_overview(branch, utcnow(), settings)
    figures = view.figures
    return jsonify(
        {
            "branch": {"id": branch.id, "name": branch.name},
            "as_of": day_text(view.today),
            "study": study_json(figures.study, view.month, view.today),
            "meetings": meeting_kinds_json(figures.meetings),
            "dues": dues_json(figures.dues, view.month),
            "alerts": alerts_json(figures.alerts, settings),
        }
    )


MEMBER_FILTERS = {
    "branch_id": BRANCH_FIELD,
    "status": Field(required=False, choices=tuple(STATUSES)),
    "bound": Field(required=False, kind="bool"),
    "q": Field(required=False, max_len=Q_MAX),
    "group_id": Field(required=False, kind="int", minimum=1),
    **PAGE_FIELDS,
}


@bp.get("/branch/members")
def branch_members() -> Response:
    """The branch's members, filtered by status, binding, name and party group."""
    args = query(MEMBER_FILTERS)
    branch = branch_for(member(), args.get("branch_id"), BRANCH_MANAGERS)
    limit, offset = _window(args)
    page = list_members(
        branch.id,
        status=args.get("status"),
        bound=args.get("bound"),
        q=args.get("q", ""),
        group_id=args.get("group_id"),
        limit=limit,
        offset=offset,
    )
    return jsonify(_page([member_item(m) for m in page.members], page.total, limit, offset))


@bp.post("/branch/binding-codes")
def branch_binding_codes() -> Response:
    """Issue one-time binding codes (as ``roster invite`` does), shown once, per member."""
    args = body(
        {
            "member_ids": Field(kind="ids", max_len=MAX_CODE_MEMBERS),
            "branch_id": BRANCH_FIELD,
        }
    )
    actor = member()
    branch = branch_for(actor, args.get("branch_id"), BRANCH_MANAGERS)
    codes = issue_branch_codes(
        actor, branch, args["member_ids"], settings=_settings(), now=utcnow()
    )
    return jsonify(
        {
            "issued": [
                {
                    "member": member_ref(item.member.id, item.member.name),
                    "code": item.code,
                    "code_display": format_code(item.code),
                    "expires_at": iso(item.expires_at),
                }
                for item in codes.issued
            ],
            "refused": [
                {"member": member_ref(m.id, m.name), "reason": reason, "message": REFUSALS[reason]}
                for m, reason in codes.refused
            ],
        }
    )


@bp.post("/branch/members/<id:member_id>/unbind")
def branch_unbind(member_id: int) -> Response:
    """Unbind the member's WeChat accounts; their API tokens stop working at once."""
    body({})
    target, result = unbind_member(member(), member_id, utcnow())
    return jsonify(
        {
            "member": member_ref(target.id, target.name),
            "bindings_removed": result.bindings,
            "sessions_revoked": result.sessions,
        }
    )


# ---- committee ------------------------------------------------------------------------------


@bp.get("/committee/branches")
def committee_branches() -> Response:
    """Every branch of the caller's committee with the overview's headline figures."""
    args = query(PAGE_FIELDS)
    actor = member()
    limit, offset = _window(args)
    page = overview.committee_branches(actor, utcnow(), _settings(), limit=limit, offset=offset)

    items = [committee_item(figures, page.month) for figures in page.branches]
    return jsonify(
        {
            **_page(items, page.total, limit, offset),
            "as_of": day_text(page.today),
            "month": f"{page.month:%Y-%m}",
        }
    )


# ---- subscribe credits ----------------------------------------------------------------------


def _accepted_body() -> list[str]:
    """Read {"accepted": ["<template id>", ...]}, refused field by field as api.common.body."""
    value = body({"accepted": Field(kind="raw")})["accepted"]
    if not isinstance(value, list):
        raise ApiError(400, "invalid_field", "字段 accepted 应为模板 ID 的列表。")
    if len(value) > MAX_TEMPLATES:
        raise ApiError(
            400, "invalid_field", f"字段 accepted 最多 {MAX_TEMPLATES} 项，当前 {len(value)} 项。"
        )
    if any(not isinstance(v, str) or not v.strip() or len(v) > TEMPLATE_ID_MAX for v in value):
        raise ApiError(
            400,
            "invalid_field",
            f"字段 accepted 的每一项应为非空字符串，最多 {TEMPLATE_ID_MAX} 字。",
        )
    return list(dict.fromkeys(value))


@bp.post("/subscribe/credits")
def subscribe_report() -> Response:
    """Record the reminder template the member accepted in wx.requestSubscribeMessage."""
    accepted = _accepted_body()
    m = member()
    template_id = _settings().channels.subscribe_template_id
    report = report_accepted(m, session().openid, template_id, accepted, utcnow())
    return jsonify(
        {
            "template_id": template_id or None,
            "recorded": report.recorded,
            "ignored": [t for t in accepted if t != template_id],
            "credits": report.credits,
        }
    )


@bp.get("/subscribe/credits")
def subscribe_credits() -> Response:
    """My remaining subscribe-message credits for the reminder template."""
    query({})
    member()
    template_id = _settings().channels.subscribe_template_id
    return jsonify(
        {"template_id": template_id or None, "credits": credits_of(session().openid, template_id)}
    )


# ---- OpenAPI ----------------------------------------------------------------------------------

_MEMBER_REF = obj({"id": ID, "name": STR})
_NUM_RATE = {
    "type": ["number", "null"],
    "minimum": 0,
    "description": "0..1; null: nobody to count",
}
_COUNT = {"type": "integer", "minimum": 0}
_STATUS = {"type": "string", "enum": list(STATUS_RANK)}

SCHEMAS: dict[str, Any] = {
    "BranchMemberRef": _MEMBER_REF,
    "BranchOverviewStudy": {
        **obj(
            {
                "first": DAY,
                "last": DAY,
                "members": _COUNT,
                "participants": _COUNT,
                "checkins": _COUNT,
                "rate": _NUM_RATE,
            }
        ),
        "description": "Party members who checked in at least once this month (a rate only).",
    },
    "BranchOverviewMeetingKind": {
        **obj(
            {
                "kind": STR,
                "kind_label": STR,
                "frequency": {"type": "string", "enum": ["month", "quarter", "year"]},
                "period": obj({"label": STR, "start": DAY, "end": DAY}),
                "required": {**_COUNT, "description": "1, or one per party group (党小组会)"},
                "satisfied": _COUNT,
                "held": {
                    **_COUNT,
                    "description": "Meetings held (ended) this period that count: for 党员大会 "
                    "and 支委会 only those where more than half of the voting members were "
                    "present",
                },
                "held_without_quorum": {
                    **_COUNT,
                    "description": "党员大会 or 支委会 that ended this period without a "
                    "quorum (nobody recorded present included); they do not satisfy the "
                    "requirement",
                },
                "planned": _COUNT,
                "next_planned_at": nullable(TIME),
                "due_by": {**nullable(DAY), "description": "Period end; null when satisfied"},
                "days_left": INT,
                "status": _STATUS,
                "overdue": BOOL,
                "previous_missed": BOOL,
            }
        ),
        "description": "One required meeting kind in the compliance calendar.",
    },
    "BranchOverviewDues": obj(
        {
            "month": MONTH,
            "expected_fen": FEN,
            "expected_text": STR,
            "collected_fen": FEN,
            "collected_text": STR,
            "rate": _NUM_RATE,
            "members_due": _COUNT,
            "members_paid": _COUNT,
            "members_exempt": _COUNT,
            "members_unset": _COUNT,
        }
    ),
    "BranchOverviewAlerts": {
        **obj(
            {
                "count": {**_COUNT, "description": "Everything below: people, meetings, messages"},
                "dues_owing": obj(
                    {
                        "count": _COUNT,
                        "total_fen": FEN,
                        "total_text": STR,
                        "members": array(
                            obj(
                                {
                                    "id": ID,
                                    "name": STR,
                                    "months": _COUNT,
                                    "fen": FEN,
                                    "text": STR,
                                }
                            ),
                            maxItems=ALERT_LIST_MAX,
                        ),
                    }
                ),
                "six_month_rule": obj(
                    {
                        "count": _COUNT,
                        "levels": array(obj({"level": INT, "count": _COUNT})),
                        "members": array(
                            obj(
                                {
                                    "id": ID,
                                    "name": STR,
                                    "reason": {"type": "string", "enum": ["dues", "meetings"]},
                                    "reason_label": STR,
                                    "months": _COUNT,
                                    "at_least": BOOL,
                                    "level": INT,
                                    "since": MONTH,
                                }
                            ),
                            maxItems=ALERT_LIST_MAX,
                        ),
                    }
                ),
                "lost_contact": obj(
                    {
                        "count": _COUNT,
                        "days": INT,
                        "members": array(ref("BranchMemberRef"), maxItems=ALERT_LIST_MAX),
                    }
                ),
                "probation_ending": obj(
                    {
                        "count": _COUNT,
                        "members": array(
                            obj({"id": ID, "name": STR, "ends_on": DAY}), maxItems=ALERT_LIST_MAX
                        ),
                    }
                ),
                "meetings_due": obj(
                    {
                        "count": _COUNT,
                        "items": array(
                            obj(
                                {
                                    "kind": STR,
                                    "kind_label": STR,
                                    "group": nullable(obj({"id": ID, "name": STR})),
                                    "period_label": STR,
                                    "due_by": DAY,
                                    "days_left": INT,
                                    "status": {"type": "string", "enum": list(DUE)},
                                    "held_without_quorum": {
                                        **_COUNT,
                                        "description": "Held this period without a quorum "
                                        "(not counted)",
                                    },
                                }
                            )
                        ),
                    }
                ),
                "dead_messages": {**_COUNT, "description": "Notices that could not be delivered"},
            }
        ),
        "description": "What the secretary's daily digest lists, as data.",
    },
    "BranchOverview": obj(
        {
            "branch": ref("Branch"),
            "as_of": DAY,
            "study": ref("BranchOverviewStudy"),
            "meetings": array(ref("BranchOverviewMeetingKind")),
            "dues": ref("BranchOverviewDues"),
            "alerts": ref("BranchOverviewAlerts"),
        }
    ),
    "BranchMemberItem": obj(
        {
            "id": ID,
            "name": STR,
            "phone": {"type": "string", "description": "Masked: 138****5678."},
            "status": {"type": "string", "enum": list(STATUSES)},
            "status_label": STR,
            "roles": array(ref("Role")),
            "group": nullable(obj({"id": ID, "name": STR})),
            "bound": BOOL,
            "last_active_on": nullable(DAY),
        }
    ),
    "BranchMemberPage": page_of("BranchMemberItem"),
    "BranchCodesRequest": obj(
        {
            "member_ids": array(ID, minItems=1, maxItems=MAX_CODE_MEMBERS),
            "branch_id": ID,
        },
        ["member_ids"],
    ),
    "BranchCodesResponse": {
        **obj(
            {
                "issued": array(
                    obj(
                        {
                            "member": ref("BranchMemberRef"),
                            "code": {"type": "string", "minLength": 8},
                            "code_display": {"type": "string", "description": "ABCD-2345"},
                            "expires_at": TIME,
                        }
                    )
                ),
                "refused": array(
                    obj(
                        {
                            "member": ref("BranchMemberRef"),
                            "reason": {"type": "string", "enum": list(REFUSALS)},
                            "message": STR,
                        }
                    )
                ),
            }
        ),
        "description": "Codes are shown this once (only a hash is kept); earlier unused codes "
        "of the same members stop working.",
    },
    "BranchUnbindResponse": obj(
        {
            "member": ref("BranchMemberRef"),
            "bindings_removed": _COUNT,
            "sessions_revoked": _COUNT,
        }
    ),
    "CommitteeBranchItem": obj(
        {
            "branch": ref("Branch"),
            "study": obj({"members": _COUNT, "participants": _COUNT, "rate": _NUM_RATE}),
            "meetings": obj(
                {
                    "required": _COUNT,
                    "satisfied": _COUNT,
                    "held": _COUNT,
                    "due": {**_COUNT, "description": "Due soon or overdue"},
                    "overdue": _COUNT,
                }
            ),
            "dues": obj(
                {
                    "expected_fen": FEN,
                    "expected_text": STR,
                    "collected_fen": FEN,
                    "collected_text": STR,
                    "rate": _NUM_RATE,
                }
            ),
            "alert_count": _COUNT,
        }
    ),
    "CommitteeBranchPage": obj(
        {
            **page_of("CommitteeBranchItem")["properties"],
            "as_of": DAY,
            "month": MONTH,
        }
    ),
    "SubscribeReport": obj(
        {
            "accepted": array(
                {"type": "string", "minLength": 1, "maxLength": TEMPLATE_ID_MAX},
                maxItems=MAX_TEMPLATES,
            )
        }
    ),
    "SubscribeReportResponse": obj(
        {
            "template_id": nullable(STR),
            "recorded": {"type": "integer", "minimum": 0, "maximum": 1},
            "ignored": array(STR),
            "credits": _COUNT,
        }
    ),
    "SubscribeCredits": obj({"template_id": nullable(STR), "credits": _COUNT}),
}

_MEMBER_PARAMS = [
    BRANCH_PARAM,
    param("status", {"type": "string", "enum": list(STATUSES)}),
    param("bound", BOOL, description="true: bound to WeChat; false: not yet"),
    param("q", {"type": "string", "maxLength": Q_MAX}, description="Part of the name"),
    param("group_id", ID, description="A party group of the branch"),
    *PAGE_PARAMS,
]

PATHS: dict[str, Any] = {
    "/api/v1/branch/overview": {
        "get": {
            "summary": "Branch managers: this month's study rate, meetings, dues and alerts",
            "security": BEARER,
            "parameters": [BRANCH_PARAM],
            "responses": {
                "200": ok("BranchOverview", "The branch this month"),
                **errors("400", "401", "403"),
            },
        }
    },
    "/api/v1/branch/members": {
        "get": {
            "summary": "Branch managers: the members, filtered and paginated",
            "security": BEARER,
            "parameters": _MEMBER_PARAMS,
            "responses": {
                "200": ok("BranchMemberPage", "Members, by id"),
                **errors("400", "401", "403"),
            },
        }
    },
    "/api/v1/branch/binding-codes": {
        "post": {
            "summary": "Branch managers: issue one-time binding codes (answered once, per member)",
            "description": "Members already bound, or whose party membership stopped, are "
            "listed under refused with a reason; a member outside the branch answers 404 and "
            "nothing is issued.",
            "security": BEARER,
            "requestBody": json_body("BranchCodesRequest"),
            "responses": {
                "200": ok("BranchCodesResponse", "Codes issued and members refused"),
                **errors("400", "401", "403"),
            },
        }
    },
    "/api/v1/branch/members/{member_id}/unbind": {
        "post": {
            "summary": "Branch managers: unbind a member's WeChat accounts and end their sessions",
            "security": BEARER,
            "parameters": [path_id("member_id")],
            "responses": {
                "200": ok("BranchUnbindResponse", "Unbound (no change if not bound)"),
                **errors("400", "401", "403", "422"),
            },
        }
    },
    "/api/v1/committee/branches": {
        "get": {
            "summary": "Committee admins: every branch of the committee with headline figures",
            "security": BEARER,
            "parameters": list(PAGE_PARAMS),
            "responses": {
                "200": ok("CommitteeBranchPage", "Branches, by id"),
                **errors("400", "401", "403"),
            },
        }
    },
    "/api/v1/subscribe/credits": {
        "post": {
            "summary": "Report the subscribe templates I accepted (wx.requestSubscribeMessage)",
            "description": "One credit for the configured reminder template per report; other "
            "template ids are ignored and listed back.",
            "security": BEARER,
            "requestBody": json_body("SubscribeReport"),
            "responses": {
                "200": ok("SubscribeReportResponse", "Recorded"),
                **errors("400", "401", "403"),
            },
        },
        "get": {
            "summary": "My remaining subscribe-message credits",
            "security": BEARER,
            "responses": {
                "200": ok("SubscribeCredits", "My credits"),
                **errors("400", "401", "403"),
            },
        },
    },
}
