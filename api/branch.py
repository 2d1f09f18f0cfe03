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

from flask import Response

from api.branch_json import (
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
    body,
    bp,
    day_text,
    iso,
    member,
    query,
    render_as,
    session,
)
from api.common import settings as _settings
from api.errors import ApiError
from api.openapi import operation
from api.shapes import PageQuery
from api.shapes import branch as shapes
from api.shapes.branch import MAX_TEMPLATES, TEMPLATE_ID_MAX
from core.clock import utcnow
from handlers import overview
from handlers.binding import format_code
from handlers.branches import branch_acted_for
from handlers.roster.codes import REFUSALS, issue_branch_codes
from handlers.roster.members import list_members, unbind_member
from handlers.subscribe import credits_of, report_accepted
from models.org import BRANCH_MANAGERS

log = logging.getLogger(__name__)

MANAGER = ("400", "401", "403")


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
@operation(
    "Branch managers: this month's study rate, meetings, dues and alerts",
    {200: (shapes.BranchOverview, "The branch this month")},
    errors=MANAGER,
    query=shapes.BranchQuery,
)
def branch_overview() -> Response:
    """This month at a glance: study rate, required meetings, dues, and the digest's alerts."""
    args = query(shapes.BranchQuery)
    settings = _settings()
    me = member()
    branch = branch_acted_for(me, args.get("branch_id"), BRANCH_MANAGERS)
    view = overview.branch_overview(branch, utcnow(), settings, viewer=me)
    figures = view.figures
    return render_as(
        shapes.BranchOverview,
        {
            "branch": {"id": branch.id, "name": branch.name},
            "as_of": day_text(view.today),
            "study": study_json(figures.study, view.month, view.today),
            "meetings": meeting_kinds_json(figures.meetings),
            "dues": dues_json(figures.dues, view.month),
            "alerts": alerts_json(figures.alerts, settings, names=view.development_names),
        },
    )


@bp.get("/branch/members")
@operation(
    "Branch managers: the members, filtered and paginated",
    {200: (shapes.BranchMemberPage, "Members, by id")},
    errors=MANAGER,
    query=shapes.BranchMembersQuery,
)
def branch_members() -> Response:
    """The branch's members, filtered by status, binding, name and party group."""
    args = query(shapes.BranchMembersQuery)
    branch = branch_acted_for(member(), args.get("branch_id"), BRANCH_MANAGERS)
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
    items = [member_item(m) for m in page.members]
    return render_as(shapes.BranchMemberPage, _page(items, page.total, limit, offset))


@bp.post("/branch/binding-codes")
@operation(
    "Branch managers: issue one-time binding codes (answered once, per member)",
    {200: (shapes.BranchCodesResponse, "Codes issued and members refused")},
    errors=MANAGER,
    json=shapes.BranchCodesRequest,
    description="Members already bound, or whose party membership stopped, are listed under "
    "refused with a reason; a member outside the branch answers 404 and nothing is issued.",
)
def branch_binding_codes() -> Response:
    """Issue one-time binding codes (as ``roster invite`` does), shown once, per member."""
    args = body(shapes.BranchCodesRequest)
    actor = member()
    branch = branch_acted_for(actor, args.get("branch_id"), BRANCH_MANAGERS)
    codes = issue_branch_codes(
        actor, branch, args["member_ids"], settings=_settings(), now=utcnow()
    )
    return render_as(
        shapes.BranchCodesResponse,
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
        },
    )


@bp.post("/branch/members/<id:member_id>/unbind")
@operation(
    "Branch managers: unbind a member's WeChat accounts and end their sessions",
    {200: (shapes.BranchUnbindResponse, "Unbound (no change if not bound)")},
    errors=(*MANAGER, "422"),
)
def branch_unbind(member_id: int) -> Response:
    """Unbind the member's WeChat accounts; their API tokens stop working at once."""
    body()
    target, result = unbind_member(member(), member_id, utcnow())
    return render_as(
        shapes.BranchUnbindResponse,
        {
            "member": member_ref(target.id, target.name),
            "bindings_removed": result.bindings,
            "sessions_revoked": result.sessions,
        },
    )


# ---- committee ------------------------------------------------------------------------------


@bp.get("/committee/branches")
@operation(
    "Committee admins: every branch of the committee with headline figures",
    {200: (shapes.CommitteeBranchPage, "Branches, by id")},
    errors=MANAGER,
    query=PageQuery,
)
def committee_branches() -> Response:
    """Every branch of the caller's committee with the overview's headline figures."""
    args = query(PageQuery)
    actor = member()
    limit, offset = _window(args)
    page = overview.committee_branches(actor, utcnow(), _settings(), limit=limit, offset=offset)

    items = [
        committee_item(figures, page.month, page.people[figures.branch.id], page.band_labels)
        for figures in page.branches
    ]
    return render_as(
        shapes.CommitteeBranchPage,
        {
            **_page(items, page.total, limit, offset),
            "as_of": day_text(page.today),
            "month": f"{page.month:%Y-%m}",
            "required_hours": page.required_hours,
        },
    )


# ---- subscribe credits ----------------------------------------------------------------------


def _accepted_body() -> list[str]:
    """Read {"accepted": ["<template id>", ...]}, refused field by field as api.common.body."""
    value = body(shapes.SubscribeReport)["accepted"]
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
@operation(
    "Report the subscribe templates I accepted (wx.requestSubscribeMessage)",
    {200: (shapes.SubscribeReportResponse, "Recorded")},
    errors=MANAGER,
    json=shapes.SubscribeReport,
    description="One credit for the configured reminder template per report; other template "
    "ids are ignored and listed back.",
)
def subscribe_report() -> Response:
    """Record the reminder template the member accepted in wx.requestSubscribeMessage."""
    accepted = _accepted_body()
    m = member()
    template_id = _settings().channels.subscribe_template_id
    report = report_accepted(m, session().openid, template_id, accepted, utcnow())
    return render_as(
        shapes.SubscribeReportResponse,
        {
            "template_id": template_id or None,
            "recorded": report.recorded,
            "ignored": [t for t in accepted if t != template_id],
            "credits": report.credits,
        },
    )


@bp.get("/subscribe/credits")
@operation(
    "My remaining subscribe-message credits",
    {200: (shapes.SubscribeCredits, "My credits")},
    errors=MANAGER,
)
def subscribe_credits() -> Response:
    """My remaining subscribe-message credits for the reminder template."""
    query()
    member()
    template_id = _settings().channels.subscribe_template_id
    return render_as(
        shapes.SubscribeCredits,
        {"template_id": template_id or None, "credits": credits_of(session().openid, template_id)},
    )
