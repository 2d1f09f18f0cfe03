"""Refunds of dues paid with WeChat Pay: a collector asks with a reason; the money goes back the
way it came, and the ledger's entry is reversed once WeChat Pay says the refund succeeded.

- ``refund_payment`` (a ledger entry, the API and the console's ledger) and ``refund_order``
  (an order, also one whose months were paid another way and so never booked; the CLI and the
  console's orders page) ask WeChat Pay for the refund of the whole order. The refund row is
  written first: its unique ``active_order`` lets one refund per order through.
- ``book_refund`` is where a refund notification and the query job end: the refund checked
  against ours, then under the row's lock the reversal entry (handlers.dues' reversal path)
  and the order refunded, exactly once.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from peewee import IntegrityError

from core import wxpay
from core.config import Settings
from handlers.dues import fen_to_text, hidden, require_collector, reverse_payment, visible_member
from handlers.dues.trail import record_dues
from handlers.errors import Conflict, Invalid, NotFound, Refused
from handlers.outbox import enqueue
from handlers.pay.booking import Mismatch, report_problem, tell_collectors
from handlers.pay.merchant import PayUnavailable, order_client, require_pay
from models.base import is_sqlite, write_tx
from models.dues import DuesPayment
from models.org import Branch, Member
from models.pay import PayOrder, PayRefund

log = logging.getLogger(__name__)

REASON_MAX = 80  # WeChat Pay shows the reason to the payer (80 characters at most)


class RefundRefused(Refused):
    """A refund the rules refuse: not a WeChat payment, not paid, a wrong amount."""


@dataclass(frozen=True)
class Refunding:
    """A refund asked for: the row, its order and the payer."""

    refund: PayRefund
    order: PayOrder
    member: Member


def refund_payment(
    actor: Member,
    payment_id: int,
    reason: str,
    amount_fen: int | None = None,
    *,
    now: datetime,
    settings: Settings,
) -> Refunding:
    """退款 of a ledger entry paid with WeChat Pay (the API's and the ledger's way in)."""
    payment = DuesPayment.get_or_none(DuesPayment.id == payment_id)
    if payment is None:
        raise hidden()
    visible_member(actor, payment.member_id)
    order = _order_of(payment)
    return _refund(actor, order, reason, amount_fen, now=now, settings=settings)


def _order_of(payment: DuesPayment) -> PayOrder:
    order = PayOrder.get_or_none(PayOrder.payment == payment.id)
    if payment.source != "wxpay" or order is None:
        raise RefundRefused(
            f"记录 {payment.id} 不是通过微信支付交纳的，不能原路退款。"
            "如登记有误，请用“更正”作废。",
            errcode="not_wxpay",
        )
    return order


def refund_order(
    actor: Member | None,
    reason: str,
    amount_fen: int | None = None,
    *,
    order_id: int | None = None,
    out_trade_no: str | None = None,
    payment_id: int | None = None,
    now: datetime,
    settings: Settings,
) -> Refunding:
    """退款 of an order by its id, its number or its ledger entry (the CLI's and the orders
    page's way in)."""
    if payment_id is not None:
        payment = DuesPayment.get_or_none(DuesPayment.id == payment_id)
        if payment is None:
            raise NotFound(f"没有编号为 {payment_id} 的党费记录，请核对编号。")
        order: PayOrder | None = _order_of(payment)
    elif order_id is not None:
        order = PayOrder.get_or_none(PayOrder.id == order_id)
    else:
        order = PayOrder.get_or_none(PayOrder.out_trade_no == (out_trade_no or "").strip())
    if order is None:
        raise NotFound("没有这笔微信支付订单，请核对订单号。", errcode="not_found")
    return _refund(actor, order, reason, amount_fen, now=now, settings=settings)


def _refund(
    actor: Member | None,
    order: PayOrder,
    reason: str,
    amount_fen: int | None,
    *,
    now: datetime,
    settings: Settings,
) -> Refunding:
    require_pay(settings)
    member = Member.get_by_id(order.member_id)
    require_collector(actor, Branch.get_by_id(member.branch_id))
    reason = " ".join(reason.split())
    if not reason:
        raise Invalid(
            "请写明退款原因，例如：重复交纳。退款原因会显示给党员。", errcode="reason_required"
        )
    if len(reason) > REASON_MAX:
        raise Invalid(f"退款原因请不超过 {REASON_MAX} 个字。", errcode="reason_too_long")
    amount = order.amount_fen if amount_fen is None else amount_fen
    _check_refundable(order, amount)
    refund = _new_refund(actor, order, member, reason, amount, now, settings)
    _ask_wechat(refund, order, now, settings)
    return Refunding(PayRefund.get_by_id(refund.id), PayOrder.get_by_id(order.id), member)


def _check_refundable(order: PayOrder, amount: int) -> None:
    if order.state == "refunded":
        raise Conflict("这笔微信支付已经退款，无需重复退款。", errcode="already_refunded")
    if order.state != "paid":
        raise RefundRefused(
            f"订单 {order.out_trade_no} {order.state_label}，没有收到款项，无需退款。",
            errcode="not_paid",
        )
    live = PayRefund.get_or_none(PayRefund.active_order == order.id)
    if live is not None:
        raise Conflict(
            f"这笔微信支付的退款正在处理中（退款单号 {live.out_refund_no}），请等待微信支付确认。",
            errcode="refund_pending",
        )
    if amount > order.amount_fen:
        raise RefundRefused(
            f"退款金额 {fen_to_text(amount)} 超过这笔实付金额 {fen_to_text(order.amount_fen)}，"
            "请核对金额。",
            errcode="amount_too_large",
        )
    if amount != order.amount_fen:
        raise RefundRefused(
            f"微信支付的党费只能整笔退款（{fen_to_text(order.amount_fen)}），因为入账记录按整笔"
            "作废。如只需退部分月份，请整笔退款后请党员重新交纳要交的月份。",
            errcode="partial_refund",
        )


def _new_number(now: datetime, settings: Settings) -> str:
    local = now.astimezone(ZoneInfo(settings.app.timezone))
    return "RF" + local.strftime("%Y%m%d%H%M%S") + secrets.token_hex(5).upper()


def _new_refund(
    actor: Member | None,
    order: PayOrder,
    member: Member,
    reason: str,
    amount: int,
    now: datetime,
    settings: Settings,
) -> PayRefund:
    try:
        with write_tx():
            refund = PayRefund.create(
                out_refund_no=_new_number(now, settings),
                order=order.id,
                active_order=order.id,
                amount_fen=amount,
                reason=reason,
                requested_by=actor.id if actor else None,
                created_at=now,
            )
            record_dues(
                actor,
                "dues.refund",
                f"申请微信支付退款：{member.name} 订单 {order.out_trade_no} "
                f"{fen_to_text(amount)}，原因：{reason}",
                member,
                target=f"pay_order:{order.id}",
                now=now,
                after={"out_refund_no": refund.out_refund_no, "amount_fen": amount},
            )
    except IntegrityError:  # another collector asked at the same moment
        raise Conflict(
            "这笔微信支付的退款刚刚已经提交，请等待微信支付确认。", errcode="refund_pending"
        ) from None
    log.info("refund %s of pay order %s asked", refund.out_refund_no, order.out_trade_no)
    return refund


def _ask_wechat(refund: PayRefund, order: PayOrder, now: datetime, settings: Settings) -> None:
    """Send the refund to WeChat Pay. Refused: the row fails and the collector is told why; no
    answer: the row stays processing and the query job asks again (the same out_refund_no)."""
    try:
        answer = order_client(order.mchid, settings).refund(
            refund_payload(refund, order, settings)
        )
    except wxpay.PayApiError as exc:
        if exc.status == 0 or exc.status >= 500:
            log.warning("refund %s not confirmed yet: %s", refund.out_refund_no, exc)
            return
        fail_refund(refund, f"微信支付拒绝退款：{exc.message or exc.code}", now)
        raise RefundRefused(
            f"微信支付拒绝了这笔退款：{exc.message or exc.code}。请在微信支付商户平台核对后再试。",
            errcode="refund_refused",
        ) from None
    except PayUnavailable:
        fail_refund(refund, "商户证书不可用", now)
        raise
    _store_answer(refund, answer, now, settings)


def refund_payload(refund: PayRefund, order: PayOrder, settings: Settings) -> dict[str, Any]:
    """The body of POST /v3/refund/domestic/refunds (the same again for a retry)."""
    return {
        "out_trade_no": order.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "reason": refund.reason,
        "notify_url": settings.pay.notify_url,
        "amount": {"refund": refund.amount_fen, "total": order.amount_fen, "currency": "CNY"},
    }


def _store_answer(
    refund: PayRefund, answer: dict[str, Any], now: datetime, settings: Settings
) -> str:
    """Keep WeChat Pay's refund id; book a refund it already reports done (or failed)."""
    status = str(answer.get("status") or answer.get("refund_status") or "")
    if answer.get("refund_id"):
        with write_tx():
            PayRefund.update(refund_id=str(answer["refund_id"])[:64]).where(
                PayRefund.id == refund.id
            ).execute()
    if status == "SUCCESS":
        return book_refund(refund.out_refund_no, answer, now=now, settings=settings)
    if status in ("CLOSED", "ABNORMAL"):
        fail_refund(refund, f"微信支付报告退款{'关闭' if status == 'CLOSED' else '异常'}", now)
        return "failed"
    return "processing"


def check_refund(refund: PayRefund | None, data: dict[str, Any], settings: Settings) -> None:
    """Refuse a refund report for another merchant, an unknown refund, another sum."""
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    problems = []
    if refund is None:
        problems.append("没有这笔退款")
    else:
        order = PayOrder.get_by_id(refund.order_id)
        mchid = order.mchid or settings.pay.mchid
        if data.get("mchid", mchid) != mchid:
            problems.append("商户号不符")
        if data.get("out_trade_no") != order.out_trade_no:
            problems.append("订单号不符")
        if amount.get("refund") != refund.amount_fen:
            problems.append(
                f"退款金额不符（通知 {amount.get('refund')} 分，申请 {refund.amount_fen} 分）"
            )
    if problems:
        raise Mismatch("，".join(problems))


def book_refund(
    out_refund_no: str, data: dict[str, Any], *, now: datetime, settings: Settings
) -> str:
    """Book WeChat Pay's successful refund once: the reversal entry, the order refunded, the
    member told. Returns booked | duplicate | failed | processing; a mismatch raises Mismatch."""
    refund = PayRefund.get_or_none(PayRefund.out_refund_no == out_refund_no)
    try:
        check_refund(refund, data, settings)
    except Mismatch as refusal:
        order = PayOrder.get_by_id(refund.order_id) if refund else None
        report_problem(order, out_refund_no, refusal.message, now)
        raise
    assert refund is not None
    status = str(data.get("refund_status") or data.get("status") or "")
    if status in ("CLOSED", "ABNORMAL"):
        fail_refund(refund, f"微信支付报告退款{'关闭' if status == 'CLOSED' else '异常'}", now)
        return "failed"
    if status != "SUCCESS":
        return "processing"
    with write_tx():
        query = PayRefund.select().where(PayRefund.id == refund.id)
        if not is_sqlite():
            query = query.for_update()
        refund = query.get()
        if refund.state == "success":
            return "duplicate"
        _book(refund, now)
    return "booked"


def _book(refund: PayRefund, now: datetime) -> None:
    """Inside the caller's transaction: the reversal, the refund and its order done, the
    member told."""
    order = PayOrder.get_by_id(refund.order_id)
    member = Member.get_by_id(order.member_id)
    reversal = None
    if order.payment_id is not None:
        reversal = reverse_payment(
            None,
            order.payment_id,
            f"微信支付退款 {refund.out_refund_no}：{refund.reason}",
            now=now,
            refund=True,
        )
    PayRefund.update(
        state="success", succeeded_at=now, reversal=reversal.id if reversal else None
    ).where(PayRefund.id == refund.id).execute()
    PayOrder.update(state="refunded", open_member=None).where(PayOrder.id == order.id).execute()
    enqueue(
        "pay_refunded",
        "member",
        member.id,
        refund.out_refund_no,
        {
            "title": "党费退款",
            "text": f"{member.name}同志，您通过微信支付交纳的党费 {fen_to_text(refund.amount_fen)}"
            f"已原路退回（原因：{refund.reason}）。如需补交，请在小程序中重新交纳。",
        },
        branch_id=member.branch_id,
        now=now,
    )
    log.info("refund %s booked (reversal %s)", refund.out_refund_no, reversal and reversal.id)


def fail_refund(refund: PayRefund, problem: str, now: datetime) -> None:
    """A refund that did not go through: the order may be refunded again; collectors told."""
    with write_tx():
        changed = (
            PayRefund.update(state="failed", active_order=None, problem=problem[:200])
            .where(PayRefund.id == refund.id, PayRefund.state == "processing")
            .execute()
        )
    if not changed:
        return
    order = PayOrder.get_by_id(refund.order_id)
    member = Member.get_by_id(order.member_id)
    tell_collectors(
        order,
        member,
        f"{member.name}的微信支付党费退款未成功（退款单号 {refund.out_refund_no}，{problem}）。"
        "款项仍在单位账户，请核对后重新办理退款。",
        now,
    )
    log.warning("refund %s failed: %s", refund.out_refund_no, problem)
