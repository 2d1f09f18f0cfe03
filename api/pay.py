"""/api/v1/dues/pay: a member pays dues with WeChat Pay in the mini-program;
/api/v1/dues/payments/{id}/refund: a collector refunds one; and /pay/notify,
where WeChat Pay tells us (not under /api/v1: no session, its signature authenticates it)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from api.common import body, bp, check_value, iso, member, render_as, session, settings
from api.dues import REFUSED, collector, month_amount
from api.errors import ApiError
from api.openapi import operation
from api.shapes import Month
from api.shapes import pay as shapes
from core.clock import utcnow
from handlers.dues import fen_to_text
from handlers.pay import (
    NotificationRefused,
    PayUnavailable,
    receive_notification,
    refund_payment,
    request_payment,
)

log = logging.getLogger(__name__)
notify_bp = Blueprint("pay_notify", __name__)


def _months() -> list | None:
    data = body(shapes.DuesPayRequest)
    value = data.get("months")
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ApiError(400, "invalid_field", '字段 months 应为非空的月份列表，例如 ["2026-07"]。')
    months = [check_value(Month, f"months 第 {i} 项", v) for i, v in enumerate(value, 1)]
    if len(set(months)) != len(months):
        raise ApiError(400, "invalid_field", "字段 months 中有重复的月份，请每个月只写一次。")
    return sorted(months)


@bp.post("/dues/pay")
@operation(
    "Pay my dues with WeChat Pay: the order (amount computed by the server) and the signed "
    "wx.requestPayment parameters; the same open order again for the same months",
    {
        200: (shapes.DuesPayCreated, "The open order for these months, again"),
        201: (shapes.DuesPayCreated, "A new order"),
    },
    errors=(*REFUSED, "503"),
    json=shapes.DuesPayRequest,
)
def dues_pay_online() -> tuple[Response, int]:
    """交党费（微信支付）: an order for the months named, or every month owed."""
    months = _months()
    who = member()
    try:
        found = request_payment(who, session().openid, months, now=utcnow(), settings=settings())
    except PayUnavailable as exc:
        raise ApiError(503, exc.errcode, exc.message) from None
    answer = {"order": order_json(found.order), "payment": found.params, "reused": found.reused}
    return render_as(shapes.DuesPayCreated, answer), 200 if found.reused else 201


def order_json(order: Any) -> dict[str, Any]:
    return {
        "out_trade_no": order.out_trade_no,
        "state": order.state,
        "state_label": order.state_label,
        "amount_fen": order.amount_fen,
        "amount_text": fen_to_text(order.amount_fen),
        "months": [month_amount(m, fen) for m, fen in order.plan],
        "created_at": iso(order.created_at),
    }


def refund_json(refund: Any) -> dict[str, Any]:
    return {
        "out_refund_no": refund.out_refund_no,
        "state": refund.state,
        "state_label": refund.state_label,
        "amount_fen": refund.amount_fen,
        "amount_text": fen_to_text(refund.amount_fen),
        "reason": refund.reason,
        "created_at": iso(refund.created_at),
        "succeeded_at": iso(refund.succeeded_at) if refund.succeeded_at else None,
        "reversal_id": refund.reversal_id,
    }


@bp.post("/dues/payments/<id:payment_id>/refund")
@operation(
    "Collectors: refund an entry paid with WeChat Pay, with a reason; the money goes back "
    "the way it came, and the entry is reversed once WeChat Pay reports the refund done",
    {202: (shapes.DuesRefundAsked, "Asked of WeChat Pay; the reversal follows its success")},
    errors=(*REFUSED, "404", "503"),
    json=shapes.DuesRefundRequest,
)
def dues_refund(payment_id: int) -> tuple[Response, int]:
    """退款: the whole order of a WeChat Pay entry, back to the payer."""
    args = body(shapes.DuesRefundRequest)
    actor = collector()
    try:
        done = refund_payment(
            actor,
            payment_id,
            args["reason"],
            args.get("amount_fen"),
            now=utcnow(),
            settings=settings(),
        )
    except PayUnavailable as exc:
        raise ApiError(503, exc.errcode, exc.message) from None
    answer = {"refund": refund_json(done.refund), "order": order_json(done.order)}
    return render_as(shapes.DuesRefundAsked, answer), 202


@notify_bp.post("/pay/notify")
def pay_notify() -> tuple[Response, int] | Response:
    """WeChat Pay's notification: 204 when booked (or already booked); FAIL with 4xx/5xx."""
    try:
        receive_notification(
            request.headers,
            request.get_data(cache=False),
            now=utcnow(),
            settings=current_app.config["ZHIBU"],
        )
    except NotificationRefused as refused:
        return jsonify({"code": "FAIL", "message": refused.message}), refused.status
    except Exception:  # WeChat Pay retries a 5xx: never a page, never a traceback
        log.exception("pay notification failed")
        return jsonify({"code": "FAIL", "message": "internal error"}), 500
    return Response(status=204)
