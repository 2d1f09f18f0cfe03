"""/api/v1 routes: dues (党费) for the member and for the branch's collectors.

Thin views over handlers.dues, the functions the bot's 党费 / 交党费 / 收党费 / 确认党费 /
退回党费 / 更正党费 commands call. Money is integer fen in and out; every amount answered also
comes as a display string ("120.00元"). Months are "YYYY-MM".
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Response

from api.common import (
    DEFAULT_LIMIT,
    body,
    bp,
    check_value,
    iso,
    member,
    query,
    render_as,
    settings,
    tz,
)
from api.errors import ApiError
from api.openapi import operation
from api.shapes import Month
from api.shapes import dues as shapes
from api.shapes.dues import MAX_MONTHS, MONTH_STATES, RECENT_ENTRIES
from core.clock import utcnow
from handlers.branches import branch_acted_for
from handlers.dues import (
    DUES_ROLES,
    Book,
    Entries,
    Reports,
    add_months,
    branch_dues,
    branch_entries,
    branch_reports,
    collect,
    confirm_report_id,
    fen_to_text,
    month_span,
    my_dues,
    reject_report_id,
    report_own_payment,
    reverse_payment_id,
    this_month,
)
from models.dues import (
    CATEGORIES,
    PAYMENT_KINDS,
    PAYMENT_SOURCES,
    RELIEF_KINDS,
    REPORT_STATUSES,
)
from models.org import STATUSES, Member

# Who may use the collector routes anywhere: the branch's collector roles, committee admins.
COLLECT_ROLES = (*DUES_ROLES, "committee_admin")
NOT_COLLECTOR = (
    "只有支部书记、党费收缴员或党委管理员可以办理支部党费。如您已交党费，请提交交纳报告。"
)

REFUSED = ("400", "401", "403", "409", "422")


# ---- input ----------------------------------------------------------------------------------


def _invalid(name: str, what: str) -> ApiError:
    return ApiError(400, "invalid_field", f"字段 {name} {what}")


def _months(value: Any, *, contiguous: bool) -> list[date] | None:
    """A list of "YYYY-MM" months → sorted first days; None when the field is absent."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise _invalid(
            "months", '应为非空的月份列表，例如 ["2026-01", "2026-02"]；不填则按最早欠交的月份算。'
        )
    if len(value) > MAX_MONTHS:
        raise _invalid("months", f"最多 {MAX_MONTHS} 个月，当前 {len(value)} 个。")
    months = [check_value(Month, f"months 第 {i} 项", v) for i, v in enumerate(value, 1)]
    if len(set(months)) != len(months):
        raise _invalid("months", "中有重复的月份，请每个月只写一次。")
    months.sort()
    if contiguous and months != month_span(months[0], months[-1]):
        raise _invalid(
            "months", "应为连续的月份，例如 2026-01 至 2026-03；不连续的月份请分次报告。"
        )
    return months


def _body_with_months(
    shape: type[shapes.Request], *, contiguous: bool
) -> tuple[dict[str, Any], list[date] | None]:
    """api.common.body of a shape with an optional ``months`` list of "YYYY-MM" (checked by
    _months)."""
    data = body(shape)
    months = _months(data.pop("months", None), contiguous=contiguous)
    return data, months


def collector() -> Member:
    """The caller, if they hold a role that collects dues somewhere; else 403."""
    actor = member()
    if not actor.has_role(*COLLECT_ROLES):
        raise ApiError(403, "forbidden", NOT_COLLECTOR)
    return actor


# ---- representations ------------------------------------------------------------------------


def month_text(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _opt_text(fen: int | None) -> str | None:
    return None if fen is None else fen_to_text(fen)


def month_amount(month: date, fen: int) -> dict[str, Any]:
    return {"month": month_text(month), "amount_fen": fen, "amount_text": fen_to_text(fen)}


def _person(names: dict[int, str], member_id: int | None) -> dict[str, Any] | None:
    return None if member_id is None else {"id": member_id, "name": names.get(member_id, "")}


def entries(found: Entries) -> list[dict[str, Any]]:
    """Ledger entries with their months and whether a later entry reversed them."""
    names = found.names
    return [
        {
            "id": p.id,
            "member": _person(names, p.member_id),
            "kind": p.kind,
            "kind_label": PAYMENT_KINDS.get(p.kind, p.kind),
            "amount_fen": p.amount_fen,
            "amount_text": fen_to_text(p.amount_fen),
            "months": [month_amount(m, fen) for m, fen in found.months.get(p.id, [])],
            "source": p.source,
            "source_label": PAYMENT_SOURCES.get(p.source, p.source),
            "note": p.note,
            "report_id": p.report_id,
            "reverses": p.reverses_id,
            "reversed_by": found.reversed_by.get(p.id),
            "recorded_by": _person(names, p.recorded_by_id),
            "recorded_at": iso(p.recorded_at),
        }
        for p in found.rows
    ]


def reports(found: Reports) -> list[dict[str, Any]]:
    """Member reports with the ledger entry a confirmation made."""
    names = found.names
    return [
        {
            "id": r.id,
            "member": _person(names, r.member_id),
            "amount_fen": r.amount_fen,
            "amount_text": fen_to_text(r.amount_fen),
            "months": (
                None
                if r.from_month is None
                else [month_text(m) for m in month_span(r.from_month, r.until_month)]
            ),
            "note": r.note,
            "status": r.status,
            "status_label": REPORT_STATUSES.get(r.status, r.status),
            "reported_at": iso(r.reported_at),
            "decided_by": _person(names, r.decided_by_id),
            "decided_at": iso(r.decided_at),
            "decision_note": r.decision_note,
            "payment_id": found.payment_of.get(r.id),
        }
        for r in found.rows
    ]


def _category(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "code": row.category,
        "label": CATEGORIES.get(row.category, row.category),
        "from_month": month_text(row.from_month),
        "base_fen": row.base_fen,
        "base_text": _opt_text(row.base_fen),
    }


def _relief(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "kind": row.kind,
        "kind_label": RELIEF_KINDS.get(row.kind, row.kind),
        "amount_fen": row.amount_fen,
        "amount_text": _opt_text(row.amount_fen),
        "from_month": month_text(row.from_month),
        "until_month": month_text(row.until_month),
        "approved_by": row.approved_by,
    }


def _owed(months: list[tuple[date, int]]) -> dict[str, Any]:
    total = sum(fen for _, fen in months)
    return {
        "owed": [month_amount(m, fen) for m, fen in months],
        "owed_fen": total,
        "owed_text": fen_to_text(total),
    }


def _branch_member(
    book: Book, month: date, current: date, through: date, cfg: dict[str, Any]
) -> dict[str, Any]:
    due = book.due(month, cfg)
    state = book.state(month, cfg, current)
    paid = book.paid.get(month)
    due_fen = due.amount_fen if due.state in ("due", "exempt") else None
    paid_fen = paid.amount_fen if paid is not None else None
    return {
        "id": book.member_id,
        "name": book.name,
        "status": book.status,
        "status_label": STATUSES.get(book.status, book.status),
        "month_state": state,
        "month_state_label": MONTH_STATES.get(state, state),
        "month_due_fen": due_fen,
        "month_due_text": _opt_text(due_fen),
        "month_paid_fen": paid_fen,
        "month_paid_text": _opt_text(paid_fen),
        **_owed(book.owed(cfg, through)),
    }


def _window(args: dict[str, Any]) -> tuple[int, int]:
    """The limit and offset of a page (as api.common.paginate reads them)."""
    return args.get("limit", DEFAULT_LIMIT), args.get("offset", 0)


def _rendered_page(items: list[Any], total: int, args: dict[str, Any]) -> dict[str, Any]:
    """api.common.paginate's answer for a page a handler read."""
    limit, offset = _window(args)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _page(items: list[Any], args: dict[str, Any]) -> dict[str, Any]:
    """api.common.paginate's answer for a list already computed."""
    limit, offset = _window(args)
    return _rendered_page(items[offset : offset + limit], len(items), args)


# ---- a member's own dues --------------------------------------------------------------------


@bp.get("/dues/me")
@operation(
    "My dues: amount, months paid and owed, pending report, recent entries",
    {200: (shapes.DuesMe, "My dues")},
    errors=("401", "403"),
)
def dues_me() -> Response:
    """My dues, as 党费 shows them in the bot: amount, months paid and owed, pending report."""
    m = member()
    cfg = settings()
    found = my_dues(m, now=utcnow(), settings=cfg, recent=RECENT_ENTRIES)
    view = found.view
    book, due = view.book, view.due
    current = view.month
    start = book.start
    assessment = due.assessment
    if assessment is None and start is not None:
        assessment = book.assessment_at(start)
    monthly = due.amount_fen if due.state in ("due", "exempt") else None
    first_shown = date(current.year, 1, 1)
    paid = [p for p in view.paid if p >= first_shown]
    paid_fen = sum(book.paid[p].amount_fen for p in paid)
    owing = m.is_party_member and start is not None
    state = book.state(current, cfg, current)
    return render_as(
        shapes.DuesMe,
        {
            "member": {"id": m.id, "name": m.name},
            "branch": {"id": found.branch.id, "name": found.branch.name},
            "status": m.status,
            "status_label": m.status_label,
            "month": month_text(current),
            "month_state": state,
            "month_state_label": MONTH_STATES.get(state, state),
            "monthly_fen": monthly,
            "monthly_text": _opt_text(monthly),
            "category": _category(assessment),
            "relief": _relief(due.relief),
            "start_month": month_text(start) if owing else None,
            "prepay_until": (
                month_text(add_months(current, cfg.dues.prepay_max_months)) if owing else None
            ),
            "paid_months": [month_text(p) for p in paid],
            "paid_fen": paid_fen,
            "paid_text": fen_to_text(paid_fen),
            **_owed(view.owed),
            "pending_report": reports(found.pending)[0] if found.pending else None,
            "recent": entries(found.recent),
        },
    )


@bp.post("/dues/reports")
@operation(
    "Report a payment I made; it waits for a collector to confirm (交党费)",
    {201: (shapes.DuesReportCreated, "Reported; waiting for confirmation")},
    errors=REFUSED,
    json=shapes.DuesReportRequest,
)
def dues_report() -> tuple[Response, int]:
    """交党费: report a payment; it waits for a collector's confirmation."""
    args, months = _body_with_months(shapes.DuesReportRequest, contiguous=True)
    found, plan = report_own_payment(
        member(),
        args["amount_fen"],
        months,
        now=utcnow(),
        settings=settings(),
        note=args.get("note", ""),
    )
    answer = {"report": reports(found)[0], "months": [month_amount(d, f) for d, f in plan]}
    return render_as(shapes.DuesReportCreated, answer), 201


# ---- the branch's collectors ----------------------------------------------------------------


@bp.get("/dues/branch")
@operation(
    "Collectors: a month's dues for the branch and each member's standing",
    {200: (shapes.DuesBranch, "Summary and members (most months owed first)")},
    errors=("400", "401", "403"),
    query=shapes.DuesBranchQuery,
)
def dues_branch() -> Response:
    """党费 情况: a month's expected and collected dues, and each member's standing."""
    args = query(shapes.DuesBranchQuery)
    actor = collector()
    branch = branch_acted_for(actor, args.get("branch_id"), DUES_ROLES)
    cfg = settings()
    now = utcnow()
    current = this_month(now, tz())
    month = args.get("month", current)
    view = branch_dues(actor, branch, month, now=now, settings=cfg)
    through = max(month, current)
    rows = [_branch_member(book, month, current, through, cfg) for book in view.books.values()]
    if args.get("owing") is not None:
        rows = [r for r in rows if bool(r["owed"]) == args["owing"]]
    rows.sort(key=lambda r: (-len(r["owed"]), r["id"]))
    s = view.summary
    return render_as(
        shapes.DuesBranch,
        {
            "branch": {"id": branch.id, "name": branch.name},
            "month": month_text(view.month),
            "summary": {
                "expected_fen": s.expected_fen,
                "expected_text": fen_to_text(s.expected_fen),
                "collected_fen": s.collected_fen,
                "collected_text": fen_to_text(s.collected_fen),
                "rate": None if s.rate is None else float(s.rate),
                "rate_text": "—" if s.rate is None else f"{s.rate * 100:.1f}%",
                "members_due": s.members_due,
                "members_paid": s.members_paid,
                "members_owing": len(view.owing),
                "members_exempt": s.members_exempt,
                "members_unset": s.members_unset,
            },
            "pending_reports": len(view.pending),
            "alerts": [
                {
                    "member": {"id": a.member_id, "name": a.member_name},
                    "reason": a.reason,
                    "reason_label": a.reason_label,
                    "months": a.months,
                    "at_least": a.at_least,
                    "level": a.level,
                    "since": month_text(a.since),
                }
                for a in view.alerts
            ],
            "members": _page(rows, args),
        },
    )


@bp.get("/dues/reports")
@operation(
    "Collectors: members' reports in the branch (pending by default)",
    {200: (shapes.DuesReportPage, "Reports")},
    errors=("400", "401", "403"),
    query=shapes.DuesReportsQuery,
)
def dues_reports() -> Response:
    """Members' reports in the branch: pending ones (oldest first) by default."""
    args = query(shapes.DuesReportsQuery)
    actor = collector()
    branch = branch_acted_for(actor, args.get("branch_id"), DUES_ROLES)
    limit, offset = _window(args)
    found, total = branch_reports(
        branch, args.get("status", "pending"), limit=limit, offset=offset
    )
    return render_as(shapes.DuesReportPage, _rendered_page(reports(found), total, args))


@bp.post("/dues/reports/<id:report_id>/confirm")
@operation(
    "Collectors: confirm a pending report; it becomes a ledger entry",
    {200: (shapes.DuesConfirmed, "Confirmed and recorded")},
    errors=REFUSED,
    json=shapes.DuesConfirmRequest,
)
def dues_confirm(report_id: int) -> Response:
    """确认党费: the report becomes a ledger entry."""
    body(shapes.DuesConfirmRequest)
    actor = collector()
    report, payment = confirm_report_id(actor, report_id, now=utcnow(), settings=settings())
    return render_as(
        shapes.DuesConfirmed, {"report": reports(report)[0], "payment": entries(payment)[0]}
    )


@bp.post("/dues/reports/<id:report_id>/reject")
@operation(
    "Collectors: send a pending report back with a reason",
    {200: (shapes.DuesRejected, "Sent back; nothing recorded")},
    errors=("400", "401", "403", "409"),
    json=shapes.DuesReasonRequest,
)
def dues_reject(report_id: int) -> Response:
    """退回党费: send the report back with a reason; nothing is recorded."""
    reason = body(shapes.DuesReasonRequest)["reason"]
    actor = collector()
    decided = reject_report_id(actor, report_id, reason, now=utcnow())
    return render_as(shapes.DuesRejected, {"report": reports(decided)[0]})


@bp.get("/dues/payments")
@operation(
    "Collectors: the branch's ledger, newest first",
    {200: (shapes.DuesEntryPage, "Ledger entries")},
    errors=("400", "401", "403"),
    query=shapes.DuesPaymentsQuery,
)
def dues_payments() -> Response:
    """The branch's ledger, newest first; ``member_id`` narrows it to one member."""
    args = query(shapes.DuesPaymentsQuery)
    actor = collector()
    branch = branch_acted_for(actor, args.get("branch_id"), DUES_ROLES)
    limit, offset = _window(args)
    found, total = branch_entries(
        branch,
        member_id=args.get("member_id"),
        kind=args.get("kind"),
        limit=limit,
        offset=offset,
    )
    return render_as(shapes.DuesEntryPage, _rendered_page(entries(found), total, args))


@bp.post("/dues/payments")
@operation(
    "Collectors: record dues for a member's months, or a voluntary payment",
    {201: (shapes.DuesPaymentCreated, "Recorded")},
    errors=REFUSED,
    json=shapes.DuesPaymentRequest,
)
def dues_pay() -> tuple[Response, int]:
    """收党费: record dues for some months (or the oldest unpaid ones), or a voluntary payment."""
    args, months = _body_with_months(shapes.DuesPaymentRequest, contiguous=False)
    kind = args.get("kind", "dues")
    if kind == "voluntary" and months is not None:
        raise _invalid("months", "不适用于自愿交纳：自愿交纳单独记账，不对应月份，请去掉 months。")
    actor = collector()
    done = collect(
        actor,
        args["member_id"],
        kind,
        args["amount_fen"],
        months,
        now=utcnow(),
        settings=settings(),
        note=args.get("note", ""),
    )
    answer = {"payment": entries(done.entry)[0], "goes_up_whole": done.goes_up_whole}
    return render_as(shapes.DuesPaymentCreated, answer), 201


@bp.post("/dues/payments/<id:payment_id>/reverse")
@operation(
    "Collectors: cancel an entry with a reversal entry (更正党费)",
    {201: (shapes.DuesReversed, "Reversed; the months may be paid again")},
    errors=REFUSED,
    json=shapes.DuesReasonRequest,
)
def dues_reverse(payment_id: int) -> tuple[Response, int]:
    """更正党费: a reversal entry cancels the payment; its months may then be paid again."""
    reason = body(shapes.DuesReasonRequest)["reason"]
    actor = collector()
    shown = entries(reverse_payment_id(actor, payment_id, reason, now=utcnow()))
    return render_as(shapes.DuesReversed, {"reversal": shown[0], "original": shown[1]}), 201
