"""The console's dues pages: the month grid, the collectors' desk (record, confirm, send back,
reverse) and the members' categories and bases.

Amounts and months typed in the forms are read by the dues package's own parsers (those of the
bot's 收党费 and 党费 设置); each form then calls one use case, and a refusal is shown by the
field it concerns with the values as typed. Nothing is written on a refused request.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, request, url_for

from core.clock import utcnow
from handlers.console.dues import (
    confirm_in_branch,
    dues_categories,
    dues_desk,
    dues_grid,
    entry_in_branch,
    record_in_branch,
    reject_in_branch,
    reverse_in_branch,
    set_category_in_branch,
)
from handlers.dues import (
    MoneyError,
    amounts_text,
    fen_to_text,
    month_label,
    month_span,
    months_text,
    parse_months,
    parse_one_month,
    yuan_to_fen,
)
from handlers.errors import Conflict, DomainError, Forbidden, NotFound
from handlers.pay import wxpay_orders
from models.dues import CATEGORIES, PAYMENT_KINDS, PAYMENT_SOURCES
from models.org import STATUSES
from web.common import bp, nav_item, page, settings, tz, user

nav_item(40, "党费", "console.dues")

LEDGER_PER_PAGE = 30
YEARS_BACK = 5

# What a grid cell says for each state of Book.state.
CELL_LABELS = {
    "paid": "已交",
    "owed": "欠交",
    "exempt": "免交",
    "ahead": "未到期",
    "before": "未起交",
    "unset": "未设置",
    "none": "—",
}
LEGEND = [
    ("paid", "已交", "该月党费已交纳（金额为实交）"),
    ("owed", "欠交", "本月及以前应交未交"),
    ("exempt", "免交", "免交类别或经批准免交"),
    ("relieved", "减免", "经上级党委批准减交或免交的月份"),
    ("ahead", "未到期", "本月之后的月份，可预交"),
    ("before", "未起交", "起交月份之前，不需交纳"),
    ("unset", "未设置", "尚未设置党费类别和基数"),
]
# Which field a refusal concerns, by its errcode (the rest is shown above the form's button).
RECORD_FIELDS = {
    "invalid_amount": "amount",
    "amount_too_large": "amount",
    "amount_mismatch": "amount",
    "month_before_start": "months",
    "month_too_far_ahead": "months",
    "month_exempt": "months",
    "duplicate_month": "months",
    "dues_not_set": "member_id",
    "not_party_member": "member_id",
}
REASON_FIELDS = {"reason_required": "reason"}
# check_assessment's refusals carry no errcode: the field is told by the words they name.
CATEGORY_WORDS = (
    ("起始月份", "from_month"),
    ("批准", "approved_by"),
    ("党费类别不对", "category"),
    ("工资", "amount"),
    ("离退休费", "amount"),
    ("农民", "amount"),
)


def _form(*names: str) -> dict[str, str]:
    return {name: (request.form.get(name) or "").strip() for name in names}


def _member_id(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _refusal(exc: DomainError, fields: dict[str, str], default: str = "form") -> str:
    """The field a refusal is shown by; a refusal of access is the whole page's (error page)."""
    if isinstance(exc, Forbidden | NotFound):
        raise exc
    return fields.get(exc.errcode, default)


def _status(exc: DomainError | None) -> int:
    return 409 if isinstance(exc, Conflict) else 400


def _year(current_year: int) -> int | None:
    year = request.args.get("year", type=int)
    if year is None or not current_year - 50 <= year <= current_year + 1:
        return None
    return year


# ---- the month grid ---------------------------------------------------------------------------


@bp.get("/branch/<int:branch_id>/dues")
def dues(branch_id: int) -> Any:
    """Members × months: paid, owed, exempt, relieved or not yet due, with each month's sums."""
    now = utcnow()
    this_year = now.astimezone(tz()).year
    year = _year(this_year)
    grid = dues_grid(user().member, branch_id, year, now=now, settings=settings())
    years = list(range(this_year + 1, this_year - YEARS_BACK - 1, -1))
    return page(
        "dues.html",
        grid=grid,
        year=year,
        years=years,
        labels=CELL_LABELS,
        legend=LEGEND,
        statuses=STATUSES,
    )


# ---- the collectors' desk ---------------------------------------------------------------------


def _desk(
    branch_id: int,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Any:
    offset = max(request.args.get("offset", 0, type=int) or 0, 0)
    desk = dues_desk(user().member, branch_id, limit=LEDGER_PER_PAGE, offset=offset)
    return page(
        "dues_payments.html",
        status,
        desk=desk,
        form=form or {"kind": "dues"},
        errors=errors or {},
        offset=offset,
        per_page=LEDGER_PER_PAGE,
        kinds=PAYMENT_KINDS,
        sources=PAYMENT_SOURCES,
        months_text=months_text,
        span_text=_span_text,
        wx_orders=wxpay_orders([p.id for p in desk.entries.rows]),
    )


def _span_text(first: date, last: date) -> str:
    return months_text(month_span(first, last))


@bp.get("/branch/<int:branch_id>/dues/payments")
def dues_payments(branch_id: int) -> Any:
    """Record a payment, decide members' reports, and the ledger with who recorded each entry."""
    return _desk(branch_id)


def _parse_payment(form: dict[str, str], errors: dict[str, str]) -> tuple[int, list[date] | None]:
    """The amount (fen) and the months (None: the oldest unpaid) typed in the payment form."""
    fen, months = 0, None
    if _member_id(form["member_id"]) is None:
        errors["member_id"] = "请选择党员。"
    try:
        fen = yuan_to_fen(form["amount"], max_fen=settings().dues.max_payment_fen)
    except MoneyError as exc:
        errors["amount"] = exc.message
    if form["months"]:
        if form["kind"] == "voluntary":
            errors["months"] = "自愿交纳单独记账，不对应月份，请清空月份。"
        else:
            try:
                months = parse_months(form["months"], now=utcnow(), tz=tz())
            except DomainError as exc:
                errors["months"] = exc.message
    return fen, months


@bp.post("/branch/<int:branch_id>/dues/payments")
def dues_record(branch_id: int) -> Any:
    """收党费: dues for months (or the oldest unpaid ones), or a voluntary payment."""
    form = _form("member_id", "kind", "amount", "months", "note")
    form["kind"] = "voluntary" if form["kind"] == "voluntary" else "dues"
    errors: dict[str, str] = {}
    fen, months = _parse_payment(form, errors)
    if errors:
        return _desk(branch_id, form=form, errors=errors, status=400)
    try:
        done = record_in_branch(
            user().member,
            branch_id,
            _member_id(form["member_id"]),
            form["kind"],
            fen,
            months,
            now=utcnow(),
            settings=settings(),
            note=form["note"],
        )
    except DomainError as exc:
        errors[_refusal(exc, RECORD_FIELDS)] = exc.message
        return _desk(branch_id, form=form, errors=errors, status=_status(exc))
    flash(_recorded_text(done.entry, done.goes_up_whole))
    return redirect(url_for("console.dues_payments", branch_id=branch_id))


def _recorded_text(found: Any, whole: bool) -> str:
    entry = found.rows[0]
    name = found.names.get(entry.member_id, "")
    covered = found.months.get(entry.id, [])
    if entry.kind == "voluntary":
        more = "，按规定全额上缴" if whole else ""
        return (
            f"已登记 {name} 自愿交纳 {fen_to_text(entry.amount_fen)}（记录编号 {entry.id}），"
            f"单独记账{more}。"
        )
    return (
        f"已登记：{name} {months_text(m for m, _ in covered)}党费 "
        f"{fen_to_text(entry.amount_fen)}（记录编号 {entry.id}；{amounts_text(covered)}）。"
    )


@bp.post("/branch/<int:branch_id>/dues/reports/<int:report_id>/confirm")
def dues_confirm(branch_id: int, report_id: int) -> Any:
    """确认党费: the member's report becomes a ledger entry."""
    try:
        _, entry = confirm_in_branch(
            user().member, branch_id, report_id, now=utcnow(), settings=settings()
        )
    except DomainError as exc:
        errors = {_refusal(exc, {}, f"report-{report_id}"): exc.message}
        return _desk(branch_id, errors=errors, status=_status(exc))
    flash("已确认。" + _recorded_text(entry, False).removeprefix("已登记："))
    return redirect(url_for("console.dues_payments", branch_id=branch_id))


@bp.post("/branch/<int:branch_id>/dues/reports/<int:report_id>/reject")
def dues_reject(branch_id: int, report_id: int) -> Any:
    """退回党费: send the report back with a reason; nothing is recorded."""
    reason = (request.form.get("reason") or "").strip()
    try:
        found = reject_in_branch(user().member, branch_id, report_id, reason, now=utcnow())
    except DomainError as exc:
        errors = {_refusal(exc, {}, f"report-{report_id}"): exc.message}
        form = {"reject": reason, "report_id": str(report_id)}
        return _desk(branch_id, form=form, errors=errors, status=_status(exc))
    report = found.rows[0]
    name = found.names.get(report.member_id, "")
    flash(f"已退回 {name} 报告的 {fen_to_text(report.amount_fen)}，未计入党费。")
    return redirect(url_for("console.dues_payments", branch_id=branch_id))


REVERSE_PATH = "/branch/<int:branch_id>/dues/payments/<int:payment_id>/reverse"


@bp.route(REVERSE_PATH, methods=["GET", "POST"])
def dues_reverse(branch_id: int, payment_id: int) -> Any:
    """更正党费: a reversal entry cancels the payment; its months may then be paid again."""
    me = user().member
    reason = (request.form.get("reason") or "").strip()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        try:
            done = reverse_in_branch(me, branch_id, payment_id, reason, now=utcnow())
        except DomainError as exc:
            errors[_refusal(exc, REASON_FIELDS)] = exc.message
            status = _status(exc)
        else:
            entry = done.rows[0]
            flash(f"已作废记录 {payment_id}，更正记录编号 {entry.id}，原因：{entry.note}。")
            return redirect(url_for("console.dues_payments", branch_id=branch_id))
    branch, found = entry_in_branch(me, branch_id, payment_id)
    return page(
        "dues_reverse.html",
        status,
        branch=branch,
        found=found,
        entry=found.rows[0],
        reason=reason,
        errors=errors,
        kinds=PAYMENT_KINDS,
        sources=PAYMENT_SOURCES,
        months_text=months_text,
    )


# ---- categories and bases ---------------------------------------------------------------------


def _categories(
    branch_id: int, form: dict[str, str], errors: dict[str, str], status: int = 200
) -> Any:
    view = dues_categories(user().member, branch_id, now=utcnow(), settings=settings())
    form.setdefault("from_month", month_label(view.month))
    return page(
        "dues_categories.html",
        status,
        view=view,
        form=form,
        errors=errors,
        categories=CATEGORIES,
        statuses=STATUSES,
        month_label=month_label,
    )


@bp.get("/branch/<int:branch_id>/dues/categories")
def dues_categories_page(branch_id: int) -> Any:
    """Each member's category and base with its history, and the form to set a new one."""
    return _categories(branch_id, {"member_id": request.args.get("member", "")}, {})


def _category_field(exc: DomainError) -> str:
    if isinstance(exc, MoneyError):
        return "amount"
    _refusal(exc, {})
    return next((field for word, field in CATEGORY_WORDS if word in exc.message), "form")


@bp.post("/branch/<int:branch_id>/dues/categories")
def dues_set_category(branch_id: int) -> Any:
    """党费 设置: a member's category and base from a month on (the history is kept)."""
    form = _form("member_id", "category", "amount", "from_month", "approved_by", "note")
    errors: dict[str, str] = {}
    now = utcnow()
    fen = month = None
    if _member_id(form["member_id"]) is None:
        errors["member_id"] = "请选择党员。"
    if form["amount"]:
        try:
            fen = yuan_to_fen(form["amount"], what="金额")
        except MoneyError as exc:
            errors["amount"] = exc.message
    try:
        month = parse_one_month(form["from_month"] or "本月", now=now, tz=tz())
    except DomainError as exc:
        errors["from_month"] = exc.message
    if errors or month is None:
        return _categories(branch_id, form, errors, 400)
    try:
        row = set_category_in_branch(
            user().member,
            branch_id,
            _member_id(form["member_id"]),
            form["category"],
            fen,
            month,
            approved_by=form["approved_by"],
            note=form["note"],
            now=now,
            settings=settings(),
        )
    except DomainError as exc:
        errors[_category_field(exc)] = exc.message
        return _categories(branch_id, form, errors, _status(exc))
    base = f"，基数 {fen_to_text(row.base_fen)}" if row.base_fen is not None else ""
    flash(f"已设置{row.member.name}：{row.category_label}{base}，{month_label(month)}起。")
    return redirect(url_for("console.dues_categories_page", branch_id=branch_id))
