"""The console's pages: a branch's home and members, and the committee's comparison."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import redirect, request, url_for

from core.clock import utcnow
from handlers.console.pages import branch_home, branch_members, committee_comparison
from handlers.reminders import digest_lines
from models.org import STATUSES, mask_phone
from web.common import bp, nav_item, page, settings, user

MEMBERS_PER_PAGE = 50
DEVELOPMENT_STAGES = {
    s: STATUSES[s] for s in ("applicant", "activist", "candidate", "probationary")
}

nav_item(10, "首页", "console.branch")
nav_item(20, "党员", "console.members")


@bp.get("/")
def home() -> Any:
    """Committee admins start at the comparison, branch managers at their branch."""
    if user().is_committee_admin:
        return redirect(url_for("console.committee"))
    return redirect(url_for("console.branch", branch_id=user().branch.id))


STATUS_LABELS = {
    "ok": "已完成",
    "overdue": "上期未开",
    "due_soon": "即将到期",
    "planned": "已安排",
    "open": "未召开",
}
# Digest lines that a page of the console acts on, by their first word.
ALERT_PAGES = {
    "党费": "dues",
    "会议": "meetings",
    "六个月规定": "members",
    "失联": "contact",
    "转正": "members",
    "消息": "messages",
    "学习计划": "study",
    "整改": "rectification",
    "发展党员": "development",
}


DEVELOPMENT_COUNTED = "发展党员：{n} 人的入党谈话或培养考察已逾期，请督促支部按期办理"


def _percent(value: Any) -> int | None:
    return None if value is None else round(float(value) * 100)


@bp.get("/branch/<int:branch_id>")
def branch(branch_id: int) -> Any:
    config = settings()
    view = branch_home(user().member, branch_id, now=utcnow(), settings=config)
    figures = view.overview.figures
    trend = [{"week": f"{w.start:%m-%d}", "rate": _percent(w.rate.rate)} for w in view.trend]
    alerts, counted = figures.alerts, []
    if not view.overview.development_names and alerts.development:
        # A committee admin sees how many, never who (and may not open the pipeline).
        alerts = replace(alerts, development=[])
        counted = [(DEVELOPMENT_COUNTED.format(n=len(figures.alerts.development)), None)]
    lines = []
    for line in digest_lines(alerts, view.overview.today, config):
        target = ALERT_PAGES.get(line.split("：", 1)[0])
        link = url_for(f"console.{target}", branch_id=figures.branch.id) if target else None
        lines.append((line, link))
    lines += counted
    return page(
        "branch.html",
        view=view,
        figures=figures,
        trend=trend,
        alert_lines=lines,
        status_labels=STATUS_LABELS,
    )


def _bound_filter(text: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(text or "")


@bp.get("/branch/<int:branch_id>/members")
def members(branch_id: int) -> Any:
    args = request.args
    status = args.get("status") or None
    status = status if status in STATUSES else None
    offset = max(args.get("offset", 0, type=int) or 0, 0)
    view = branch_members(
        user().member,
        branch_id,
        status=status,
        bound=_bound_filter(args.get("bound")),
        q=(args.get("q") or "")[:50],
        limit=MEMBERS_PER_PAGE,
        offset=offset,
    )
    template = "members_rows.html" if request.headers.get("HX-Request") else "members.html"
    return page(
        template,
        view=view,
        statuses=STATUSES,
        mask_phone=mask_phone,
        filters={"status": status or "", "bound": args.get("bound", ""), "q": args.get("q", "")},
        offset=offset,
        per_page=MEMBERS_PER_PAGE,
    )


@bp.get("/committee")
def committee() -> Any:
    found = committee_comparison(user().member, now=utcnow(), settings=settings())
    view = found.comparison
    rows = []
    for snap in view.rows:
        required, satisfied = snap.meetings_required, snap.meetings_satisfied
        members, expected = snap.study_members, snap.dues_expected_fen
        rows.append(
            {
                "id": snap.branch.id,
                "name": snap.branch.name,
                "study": _percent(snap.study_participants / members) if members else None,
                "required": required,
                "satisfied": satisfied,
                "met_ratio": satisfied / required if required else 1,
                "dues": _percent(snap.dues_collected_fen / expected) if expected else None,
                "alerts": snap.alert_count,
                "last_active": snap.last_active_at,
            }
        )
    chart = [{"name": r["name"], "study": r["study"], "dues": r["dues"]} for r in rows]
    names = [(snap.branch.id, snap.branch.name) for snap in view.rows]
    rectification = [(i, name, found.rectification.get(i)) for i, name in names]
    development = [(i, name, found.development.get(i)) for i, name in names]
    return page(
        "committee.html",
        view=view,
        rows=rows,
        chart=chart,
        rectification=rectification,
        organization=found.organization,
        development=development,
        stages=DEVELOPMENT_STAGES,
    )


@bp.post("/committee/refresh")
def committee_refresh() -> Any:
    """Compute the comparison's figures now (they are otherwise refreshed every few minutes)."""
    committee_comparison(user().member, now=utcnow(), settings=settings(), refresh=True)
    return redirect(url_for("console.committee"))
