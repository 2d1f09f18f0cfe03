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

from flask import Response
from peewee import JOIN, fn

from api.common import (
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
    session,
    tz,
)
from api.common import settings as _settings
from api.errors import ApiError
from api.openapi import operation
from api.shapes import PageQuery
from api.shapes import branch as shapes
from api.shapes.branch import (
    ALERT_LIST_MAX,
    MAX_TEMPLATES,
    REFUSALS,
    STATUS_RANK,
    TEMPLATE_ID_MAX,
)
from core.clock import local_day, utcnow
from handlers.binding import format_code, issue_codes, touch, unbind
from handlers.calendar import DUE, Requirement, all_branches_calendar, branch_calendar
from handlers.dues import BranchMonthSummary, branch_month_summary, fen_to_text
from handlers.outbox import add_subscribe_credits
from handlers.reminders import BranchAlerts, StudyRate, secretary_alerts, study_participation
from models.base import write_tx
from models.org import (
    BRANCH_MANAGERS,
    ROLES,
    Branch,
    Member,
    PartyGroup,
    acts_for,
    mask_phone,
    may_manage_binding,
)
from models.outbox import SubscribeCredit
from models.wechat import WechatBinding

log = logging.getLogger(__name__)

FORBIDDEN = "没有权限进行此操作。"

# The dues figures of the committee's list (the overview has the member counts too).
HEADLINE_DUES = ("expected_fen", "expected_text", "collected_fen", "collected_text", "rate")
MANAGER = ("400", "401", "403")


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
                "status": min((r.status for r in group), key=STATUS_RANK.__getitem__),
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


# ---- access ---------------------------------------------------------------------------------


def _manager() -> Member:
    """The caller, if they manage a branch or are a committee admin; else 403."""
    actor = member()
    if not actor.has_role(*BRANCH_MANAGERS, "committee_admin"):
        raise ApiError(403, "forbidden", FORBIDDEN)
    return actor


def _managed_member(actor: Member, member_id: int) -> Member:
    """A member of a branch the caller may act for, or 404 (existence does not leak)."""
    target = Member.select(Member, Branch).join(Branch).where(Member.id == member_id).first()
    if target is None or not acts_for(actor, target.branch, BRANCH_MANAGERS):
        raise not_found()
    return target


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
    branch = branch_for(member(), args.get("branch_id"), BRANCH_MANAGERS)
    settings = _settings()
    now = utcnow()
    today = local_day(now, tz())
    month = today.replace(day=1)
    rates = study_participation(month, today, Member.branch == branch.id)
    summaries = branch_month_summary(month, settings, branch_id=branch.id)
    alerts = secretary_alerts(now, settings, branch_id=branch.id)
    return render_as(
        shapes.BranchOverview,
        {
            "branch": {"id": branch.id, "name": branch.name},
            "as_of": day_text(today),
            "study": study_json(rates.get(branch.id), month, today),
            "meetings": meeting_kinds_json(branch_calendar(branch.id, now, settings)),
            "dues": dues_json(summaries[0] if summaries else None, month),
            "alerts": alerts_json(alerts.get(branch.id) or BranchAlerts(branch.id), settings),
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
    branch = branch_for(member(), args.get("branch_id"), BRANCH_MANAGERS)
    has_binding = fn.EXISTS(
        WechatBinding.select(WechatBinding.id).where(WechatBinding.member == Member.id)
    )
    select = (
        Member.select(Member, PartyGroup, has_binding.alias("is_bound"))
        .join(PartyGroup, JOIN.LEFT_OUTER, on=Member.party_group == PartyGroup.id)
        .where(Member.branch == branch.id)
        .order_by(Member.id)
    )
    if "status" in args:
        select = select.where(Member.status == args["status"])
    if "bound" in args:
        select = select.where(has_binding if args["bound"] else ~has_binding)
    if args.get("q", "").strip():
        select = select.where(Member.name.contains(args["q"].strip()))
    if "group_id" in args:
        group = PartyGroup.get_or_none(
            PartyGroup.id == args["group_id"], PartyGroup.branch == branch.id
        )
        if group is None:
            raise not_found()
        select = select.where(Member.party_group == group.id)
    return render_as(shapes.BranchMemberPage, paginate(select, args, member_item))


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
    branch = branch_for(member(), args.get("branch_id"), BRANCH_MANAGERS)
    ids: list[int] = args["member_ids"]
    settings = _settings()
    now = utcnow()
    with write_tx():
        found = {
            m.id: m for m in Member.select().where(Member.id.in_(ids), Member.branch == branch.id)
        }
        if len(found) != len(ids):
            raise not_found()
        actor = member()
        over = [found[i].name for i in ids if not may_manage_binding(actor, found[i])]
        if over:  # a code would let the caller bind a second account as someone with more power
            raise ApiError(
                403,
                "forbidden",
                "不能为担任您所没有职务的人员签发绑定码："
                + "、".join(over)
                + "。请由党委管理员办理。",
            )
        bound = {
            b.member_id
            for b in WechatBinding.select(WechatBinding.member).where(
                WechatBinding.member.in_(ids)
            )
        }
        refused: list[tuple[Member, str]] = []
        eligible = []
        for member_id in ids:
            m = found[member_id]
            if member_id in bound:
                refused.append((m, "already_bound"))
            elif m.status == "out":
                refused.append((m, "not_party_member"))
            else:
                eligible.append(m)
        issued = (
            issue_codes(
                eligible,
                secret_key=settings["app"]["secret_key"],
                now=now,
                ttl_days=settings["binding"]["code_ttl_days"],
                length=settings["binding"]["code_length"],
            )
            if eligible
            else []
        )
    log.info(
        "issued %d binding codes through the API for branch id=%s (%d refused)",
        len(issued),
        branch.id,
        len(refused),
    )
    return render_as(
        shapes.BranchCodesResponse,
        {
            "issued": [
                {
                    "member": _ref(item.member.id, item.member.name),
                    "code": item.code,
                    "code_display": format_code(item.code),
                    "expires_at": iso(item.expires_at),
                }
                for item in issued
            ],
            "refused": [
                {"member": _ref(m.id, m.name), "reason": reason, "message": REFUSALS[reason]}
                for m, reason in refused
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
    actor = _manager()
    target = _managed_member(actor, member_id)
    if not may_manage_binding(actor, target):
        raise ApiError(
            403,
            "forbidden",
            f"{target.name} 担任您所没有的职务，不能由您解除绑定，请由党委管理员办理。",
        )
    if target.id == actor.id:  # it would end this very session, and lock the manager out
        raise ApiError(
            422, "cannot_unbind_self", "不能解除自己的绑定，请联系其他支委或党委管理员办理。"
        )
    result = unbind(target, utcnow())
    return render_as(
        shapes.BranchUnbindResponse,
        {
            "member": _ref(target.id, target.name),
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
    if not actor.has_role("committee_admin"):
        raise ApiError(403, "forbidden", FORBIDDEN)
    committee_id = actor.branch.committee_id
    settings = _settings()
    now = utcnow()
    today = local_day(now, tz())
    month = today.replace(day=1)
    ours = Branch.select(Branch.id).where(Branch.committee == committee_id)
    # Each figure for every branch of the committee at once: a constant number of queries.
    rates = study_participation(month, today, Member.branch.in_(ours))
    reqs: dict[int, list[Requirement]] = {}
    for req in all_branches_calendar(now, settings, committee_id):
        reqs.setdefault(req.branch_id, []).append(req)
    dues = {
        s.branch_id: s for s in branch_month_summary(month, settings, committee_id=committee_id)
    }
    alerts = secretary_alerts(now, settings, committee_id=committee_id)

    def render(branch: Branch) -> dict[str, Any]:
        rate = rates.get(branch.id) or StudyRate(0, 0, 0)
        summary = dues.get(branch.id)
        found = alerts.get(branch.id)
        return {
            "branch": {"id": branch.id, "name": branch.name},
            "study": {
                "members": rate.members,
                "participants": rate.participants,
                "rate": _rate(rate.rate),
            },
            "meetings": _meeting_totals(reqs.get(branch.id, [])),
            "dues": {
                k: v
                for k, v in dues_json(summary, month).items()
                if k
                in ("expected_fen", "expected_text", "collected_fen", "collected_text", "rate")
            },
            "alert_count": found.count if found else 0,
        }

    select = (
        Branch.select(Branch.id, Branch.name)
        .where(Branch.committee == committee_id)
        .order_by(Branch.id)
    )
    page = paginate(select, args, render)
    return render_as(
        shapes.CommitteeBranchPage, {**page, "as_of": day_text(today), "month": f"{month:%Y-%m}"}
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


def _credits(openid: str, template_id: str) -> int:
    if not template_id:
        return 0
    row = SubscribeCredit.get_or_none(
        SubscribeCredit.openid == openid, SubscribeCredit.template_id == template_id
    )
    return row.credits if row else 0


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
    openid = session().openid
    template_id = _settings()["channels"]["subscribe_template_id"]
    now = utcnow()
    recorded = 1 if template_id and template_id in accepted else 0
    with write_tx():
        credits = (
            add_subscribe_credits(openid, template_id, now)
            if recorded
            else _credits(openid, template_id)
        )
        touch(m, now)
    return render_as(
        shapes.SubscribeReportResponse,
        {
            "template_id": template_id or None,
            "recorded": recorded,
            "ignored": [t for t in accepted if t != template_id],
            "credits": credits,
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
    template_id = _settings()["channels"]["subscribe_template_id"]
    return render_as(
        shapes.SubscribeCredits,
        {"template_id": template_id or None, "credits": _credits(session().openid, template_id)},
    )
