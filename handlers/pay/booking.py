"""Booking a paid order in the dues ledger, exactly once, however often WeChat Pay tells us.

A notification and the query job both end here with WeChat Pay's transaction. The order row is
locked (SQLite: the write lock taken up front; PostgreSQL: SELECT ... FOR UPDATE) and its state
decides: an open (or closed) order is booked, a paid one is a duplicate and books nothing.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from peewee import IntegrityError

from core.config import Settings
from handlers.dues import DUES_ROLES, fen_to_text, months_text
from handlers.dues.payments import insert_payment
from handlers.dues.trail import amount_words, record_dues
from handlers.errors import DomainError
from handlers.outbox import enqueue
from handlers.pay.merchant import merchants
from models.base import db, is_sqlite, write_tx
from models.dues import DuesPayment
from models.org import Member
from models.pay import PayOrder

log = logging.getLogger(__name__)


class Mismatch(DomainError):
    """A transaction that does not match our order: refused, logged, shown to the collectors."""

    errcode = "pay_mismatch"


@dataclass(frozen=True)
class Booked:
    """What a transaction did: booked | duplicate | unbookable (paid, but its months were
    paid another way meanwhile: the collector refunds it)."""

    outcome: str
    order: PayOrder
    payment: DuesPayment | None = None


def check_transaction(order: PayOrder | None, data: dict[str, Any], settings: Settings) -> None:
    """Refuse a transaction for another merchant or app, an unknown order, another sum."""
    amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
    problems = []
    merchant = merchants(settings).get((order.mchid if order else "") or settings.pay.mchid)
    if merchant is None or data.get("mchid") != merchant.mchid:
        problems.append("商户号不符")
    if merchant is None or data.get("appid") != merchant.appid:
        problems.append("AppID 不符")
    if order is None:
        problems.append("没有这笔订单")
    elif amount.get("total") != order.amount_fen or amount.get("currency") != "CNY":
        problems.append(
            f"金额不符（通知 {amount.get('total')} 分 {amount.get('currency')}，"
            f"订单 {order.amount_fen} 分 CNY）"
        )
    if data.get("trade_state") != "SUCCESS" or not data.get("transaction_id"):
        problems.append("交易状态不是支付成功")
    if problems:
        raise Mismatch("，".join(problems))


def book_transaction(
    out_trade_no: str, data: dict[str, Any], *, now: datetime, settings: Settings
) -> Booked:
    """Book WeChat Pay's successful transaction of an order once; a mismatch raises Mismatch
    (and the collectors are told)."""
    order = PayOrder.get_or_none(PayOrder.out_trade_no == out_trade_no)
    try:
        check_transaction(order, data, settings)
    except Mismatch as refusal:
        report_problem(order, out_trade_no, refusal.message, now)
        raise
    assert order is not None
    with write_tx():
        query = PayOrder.select().where(PayOrder.id == order.id)
        if not is_sqlite():
            query = query.for_update()
        order = query.get()
        if order.state in ("paid", "refunded"):
            return Booked("duplicate", order)
        return _book(order, str(data["transaction_id"]), now, settings)


def _book(order: PayOrder, transaction_id: str, now: datetime, settings: Settings) -> Booked:
    """Inside the caller's transaction: the ledger entry, the order paid, the member told."""
    member = Member.get_by_id(order.member_id)
    plan = order.plan
    note = f"微信支付 交易单号 {transaction_id}"
    try:
        with db.atomic():  # a savepoint: a month paid meanwhile leaves the order to refund
            payment = insert_payment(None, member, plan, source="wxpay", now=now, note=note)
    except IntegrityError:
        payment = None
    fields: dict[str, Any] = {
        "state": "paid",
        "open_member": None,
        "transaction_id": transaction_id,
        "paid_at": now,
        "payment": payment.id if payment else None,
    }
    if payment is None:
        fields["problem"] = "所交月份已通过其他方式登记，需退款"
    PayOrder.update(**fields).where(PayOrder.id == order.id).execute()
    order = PayOrder.get_by_id(order.id)
    if payment is None:
        log.warning("pay order %s paid but its months are taken", order.out_trade_no)
        tell_collectors(
            order, member, f"{member.name}通过微信支付交纳的党费 {fen_to_text(order.amount_fen)}"
            f"（{months_text(m for m, _ in plan)}）已到账，但这些月份已另行登记，未能入账。"
            f"请核对后为其办理退款（订单号 {order.out_trade_no}）。", now,
        )  # fmt: skip
        return Booked("unbookable", order)
    months = [m for m, _ in plan]
    record_dues(
        None,
        "dues.payment",
        f"微信支付入账：{member.name} 党费 {amount_words(payment.amount_fen, months)}",
        member,
        target=f"dues_payment:{payment.id}",
        now=now,
        after={
            "member_id": member.id,
            "kind": "dues",
            "amount_fen": payment.amount_fen,
            "months": months,
            "transaction_id": transaction_id,
        },
    )
    enqueue(
        "pay_confirmed",
        "member",
        member.id,
        order.out_trade_no,
        {
            "title": "党费到账",
            "text": f"{member.name}同志，您通过微信支付交纳的党费 "
            f"{fen_to_text(payment.amount_fen)}（{months_text(months)}）已入账，"
            f"记录编号 {payment.id}。",
        },
        branch_id=member.branch_id,
        now=now,
    )
    log.info("pay order %s booked as payment %s", order.out_trade_no, payment.id)
    return Booked("booked", order, payment)


def collectors(branch_id: int) -> list[Member]:
    """The branch's secretary and dues collectors."""
    return [
        m
        for m in Member.select().where(Member.branch == branch_id, Member.roles != "")
        if m.has_role(*DUES_ROLES)
    ]


def tell_collectors(order: PayOrder, member: Member, text: str, now: datetime) -> None:
    key = f"{order.out_trade_no}:{hashlib.sha1(text.encode()).hexdigest()[:12]}"  # noqa: S324
    for person in collectors(member.branch_id):
        enqueue(
            "pay_problem",
            "member",
            person.id,
            key,
            {"title": "微信支付异常", "text": text},
            branch_id=member.branch_id,
            now=now,
        )


def report_problem(order: PayOrder | None, out_trade_no: str, problem: str, now: datetime) -> None:
    """Log a refused transaction; with a known order, note it there and tell the collectors."""
    log.warning("pay notification for %r refused: %s", out_trade_no[:40], problem)
    if order is None:
        return
    member = Member.get_by_id(order.member_id)
    with write_tx():
        PayOrder.update(problem=problem[:200]).where(PayOrder.id == order.id).execute()
    tell_collectors(
        order,
        member,
        f"收到一条与订单不符的微信支付通知，已拒收：{member.name} 订单 {order.out_trade_no}，"
        f"{problem}。请核对微信支付商户平台的记录。",
        now,
    )


def mark_closed(order: PayOrder, now: datetime) -> bool:
    """An open order closed (at WeChat Pay already); False when it was no longer open."""
    with write_tx():
        changed = (
            PayOrder.update(state="closed", open_member=None, closed_at=now)
            .where(PayOrder.id == order.id, PayOrder.state == "created")
            .execute()
        )
    return changed > 0
