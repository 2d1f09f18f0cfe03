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
from collections.abc import Iterable
from datetime import date
from typing import Any

from flask import Response, jsonify

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
    tz,
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
from core.clock import local_day, utcnow
from handlers import overview
from handlers.binding import format_code
from handlers.calendar import DUE, Requirement
from handlers.dues import BranchMonthSummary, fen_to_text
from handlers.overview import BranchFigures
from handlers.reminders import BranchAlerts, StudyRate
from handlers.roster.codes import REFUSALS, issue_branch_codes
from handlers.roster.members import list_members, unbind_member
from handlers.subscribe import credits_of, report_accepted
from models.org import BRANCH_MANAGERS, ROLES, STATUSES, Member, mask_phone

log = logging.getLogger(__name__)

# Members named in each alert list (the count says how many there are in all).
ALERT_LIST_MAX = 20
# Members per binding-code request.
MAX_CODE_MEMBERS = 100
# Template ids per subscribe report (wx.requestSubscribeMessage takes a few at a time).
MAX_TEMPLATES = 20
TEMPLATE_ID_MAX = 128
Q_MAX = 50
# The worst status of a meeting kind's requirements comes first.
_STATUS_RANK = {"overdue": 0, "due_soon": 1, "open": 2, "planned": 3, "ok": 4}

# The dues figures of the committee's list (the overview has the member counts too).
HEADLINE_DUES = ("expected_fen", "expected_text", "collected_fen", "collected_text", "rate")

BRANCH_FIELD = Field(required=False, kind="int", minimum=1)


# ---- representations -------------------------------------------------------------------------


def _rate(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def _ref(member_id: int, name: str) -> dict[str, Any]:
    return {"id": member_id, "name": name}


def study_json(rate: StudyRate | None, first: date, last: date) -> dict[str, Any]:
    rate = rate or StudyRate(0, 0, 0)
    return {
        "first": day_text(first),
        "last": day_text(last),
        "members": rate.members,
        "participants": rate.participants,
        "checkins": rate.checkins,
        "rate": _rate(rate.rate),
    }


def meeting_kinds_json(reqs: list[Requirement]) -> list[dict[str, Any]]:
    """One entry per required kind: how many are required (per group for 党小组会) and held."""
    kinds: dict[str, list[Requirement]] = {}
    for req in reqs:
        kinds.setdefault(req.kind, []).append(req)
    out = []
    for kind, group in kinds.items():
        period = group[0].period
        planned = [r.next_planned for r in group if r.next_planned is not None]
        out.append(
            {
                "kind": kind,
                "kind_label": group[0].kind_label,
                "frequency": period.kind,
                "period": {
                    "label": period.label,
                    "start": day_text(period.start),
                    "end": day_text(period.end),
                },
                "required": len(group),
                "satisfied": sum(r.satisfied for r in group),
                "held": sum(r.held for r in group),
                "held_without_quorum": sum(r.held_without_quorum for r in group),
                "planned": sum(r.planned for r in group),
                "next_planned_at": iso(min(planned)) if planned else None,
                "due_by": None if all(r.satisfied for r in group) else day_text(period.end),
                "days_left": group[0].days_left,
                "status": min((r.status for r in group), key=_STATUS_RANK.__getitem__),
                "overdue": any(r.status == "overdue" for r in group),
                "previous_missed": any(r.previous_missed for r in group),
            }
        )
    return out


def dues_json(summary: BranchMonthSummary | None, month: date) -> dict[str, Any]:
    expected = summary.expected_fen if summary else 0
    collected = summary.collected_fen if summary else 0
    return {
        "month": f"{month:%Y-%m}",
        "expected_fen": expected,
        "expected_text": fen_to_text(expected),
        "collected_fen": collected,
        "collected_text": fen_to_text(collected),
        "rate": _rate(summary.rate) if summary else None,
        "members_due": summary.members_due if summary else 0,
        "members_paid": summary.members_paid if summary else 0,
        "members_exempt": summary.members_exempt if summary else 0,
        "members_unset": summary.members_unset if summary else 0,
    }


def alerts_json(alerts: BranchAlerts, settings: dict[str, Any]) -> dict[str, Any]:
    """The secretary digest's items for one branch, as counts and short member lists."""
    owing = alerts.owing
    levels: dict[int, int] = {}
    for alert in alerts.lapse:
        levels[alert.level] = levels.get(alert.level, 0) + 1
    return {
        "count": alerts.count,
        "dues_owing": {
            "count": len(owing),
            "total_fen": sum(o.fen for o in owing),
            "total_text": fen_to_text(sum(o.fen for o in owing)),
            "members": [
                {
                    **_ref(o.member_id, o.name),
                    "months": len(o.months),
                    "fen": o.fen,
                    "text": fen_to_text(o.fen),
                }
                for o in sorted(owing, key=lambda o: (-len(o.months), o.member_id))[
                    :ALERT_LIST_MAX
                ]
            ],
        },
        "six_month_rule": {
            "count": len(alerts.lapse),
            "levels": [{"level": k, "count": levels[k]} for k in sorted(levels)],
            "members": [
                {
                    **_ref(a.member_id, a.member_name),
                    "reason": a.reason,
                    "reason_label": a.reason_label,
                    "months": a.months,
                    "at_least": a.at_least,
                    "level": a.level,
                    "since": f"{a.since:%Y-%m}",
                }
                for a in alerts.lapse[:ALERT_LIST_MAX]
            ],
        },
        "lost_contact": {
            "count": len(alerts.lost_contact),
            "days": settings["alerts"]["lost_contact_days"],
            "members": [_ref(i, n) for i, n in alerts.lost_contact[:ALERT_LIST_MAX]],
        },
        "probation_ending": {
            "count": len(alerts.probation),
            "members": [
                {**_ref(i, n), "ends_on": day_text(ends)}
                for i, n, ends in alerts.probation[:ALERT_LIST_MAX]
            ],
        },
        "meetings_due": {
            "count": len(alerts.meetings),
            "items": [
                {
                    "kind": r.kind,
                    "kind_label": r.kind_label,
                    "group": {"id": r.group_id, "name": r.group_name} if r.group_id else None,
                    "period_label": r.period.label,
                    "due_by": day_text(r.period.end),
                    "days_left": r.days_left,
                    "status": r.status,
                    "held_without_quorum": r.held_without_quorum,
                }
                for r in alerts.meetings
            ],
        },
        "dead_messages": alerts.dead,
    }


def member_item(m: Member) -> dict[str, Any]:
    group = m.party_group if m.party_group_id else None
    last = m.last_active_at
    return {
        "id": m.id,
        "name": m.name,
        "phone": mask_phone(m.phone),
        "status": m.status,
        "status_label": m.status_label,
        "roles": [{"code": r, "label": ROLES.get(r, r)} for r in sorted(m.role_set)],
        "group": {"id": group.id, "name": group.name} if group else None,
        "bound": bool(m.is_bound),
        "last_active_on": day_text(local_day(last, tz())) if last else None,
    }


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
                    "member": _ref(item.member.id, item.member.name),
                    "code": item.code,
                    "code_display": format_code(item.code),
                    "expires_at": iso(item.expires_at),
                }
                for item in codes.issued
            ],
            "refused": [
                {"member": _ref(m.id, m.name), "reason": reason, "message": REFUSALS[reason]}
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
            "member": _ref(target.id, target.name),
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

    def render(figures: BranchFigures) -> dict[str, Any]:
        rate = figures.study
        return {
            "branch": {"id": figures.branch.id, "name": figures.branch.name},
            "study": {
                "members": rate.members,
                "participants": rate.participants,
                "rate": _rate(rate.rate),
            },
            "meetings": _meeting_totals(figures.meetings),
            "dues": {
                k: v for k, v in dues_json(figures.dues, page.month).items() if k in HEADLINE_DUES
            },
            "alert_count": figures.alerts.count,
        }

    items = [render(figures) for figures in page.branches]
    return jsonify(
        {
            **_page(items, page.total, limit, offset),
            "as_of": day_text(page.today),
            "month": f"{page.month:%Y-%m}",
        }
    )


def _meeting_totals(reqs: Iterable[Requirement]) -> dict[str, int]:
    reqs = list(reqs)
    return {
        "required": len(reqs),
        "satisfied": sum(r.satisfied for r in reqs),
        "held": sum(r.held for r in reqs),
        "due": sum(r.status in DUE for r in reqs),
        "overdue": sum(r.status == "overdue" for r in reqs),
    }


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
    template_id = _settings()["channels"]["subscribe_template_id"]
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
    template_id = _settings()["channels"]["subscribe_template_id"]
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
_STATUS = {"type": "string", "enum": list(_STATUS_RANK)}

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
