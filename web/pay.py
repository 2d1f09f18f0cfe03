"""The console's WeChat Pay pages for collectors: a branch's orders (state, months, amount,
transaction id, refunds), the trade bill's open differences, and refunding a payment with a
reason."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, request, url_for

from core.clock import utcnow
from handlers.dues import fen_to_text, months_text
from handlers.errors import DomainError, Forbidden, NotFound
from handlers.pay import (
    PayUnavailable,
    branch_orders,
    order_in_branch,
    pay_enabled,
    refund_order,
    settle_difference,
)
from models.pay import DIFFERENCE_KINDS
from web.common import bp, page, settings, user

ORDERS_PER_PAGE = 30
REFUND_FIELDS = {"reason_required": "reason", "reason_too_long": "reason"}


@bp.get("/branch/<int:branch_id>/dues/orders")
def dues_orders(branch_id: int) -> Any:
    """微信支付: the branch's orders, newest first, and the bill's open differences."""
    offset = max(request.args.get("offset", 0, type=int) or 0, 0)
    found = branch_orders(user().member, branch_id, limit=ORDERS_PER_PAGE, offset=offset)
    return page(
        "dues_orders.html",
        found=found,
        branch=found.branch,
        offset=offset,
        per_page=ORDERS_PER_PAGE,
        kinds=DIFFERENCE_KINDS,
        months_text=months_text,
        pay_on=pay_enabled(settings()),
    )


@bp.route("/branch/<int:branch_id>/dues/orders/<int:order_id>/refund", methods=["GET", "POST"])
def dues_refund(branch_id: int, order_id: int) -> Any:
    """退款: the whole order back to the payer, with a reason; the ledger entry is reversed
    when WeChat Pay reports the refund done."""
    me = user().member
    reason = (request.form.get("reason") or "").strip()
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        order_in_branch(me, branch_id, order_id)  # another branch's order: not found
        try:
            done = refund_order(me, reason, order_id=order_id, now=utcnow(), settings=settings())
        except DomainError as exc:
            if isinstance(exc, Forbidden | NotFound):
                raise
            errors[REFUND_FIELDS.get(exc.errcode, "form")] = exc.message
            status = 503 if isinstance(exc, PayUnavailable) else 409 if exc.errcode in (
                "already_refunded", "refund_pending"
            ) else 400  # fmt: skip
        else:
            flash(
                f"已向微信支付申请退款 {fen_to_text(done.refund.amount_fen)}（退款单号 "
                f"{done.refund.out_refund_no}）。微信支付确认后，原入账记录自动作废。"
            )
            return redirect(url_for("console.dues_orders", branch_id=branch_id))
    branch, order = order_in_branch(me, branch_id, order_id)
    return page(
        "dues_refund.html",
        status,
        branch=branch,
        order=order,
        member_name=order.member.name,
        reason=reason,
        errors=errors,
        months_text=months_text,
    )


@bp.post("/branch/<int:branch_id>/dues/differences/<int:difference_id>/settle")
def dues_settle(branch_id: int, difference_id: int) -> Any:
    """已核对: a collector closes a difference of the bill with what was done about it."""
    note = (request.form.get("note") or "").strip()
    try:
        settle_difference(user().member, branch_id, difference_id, note, now=utcnow())
    except DomainError as exc:
        if isinstance(exc, Forbidden | NotFound):
            raise
        flash(exc.message)
    else:
        flash("已标记为已核对，这处差异不再出现在待办中。")
    return redirect(url_for("console.dues_orders", branch_id=branch_id))
