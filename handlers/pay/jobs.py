"""The order jobs: query orders (and refunds) whose notification has not come, close unpaid
orders; each order with the merchant it was made with."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta

from core import wxpay
from core.config import Settings
from handlers.pay.booking import Mismatch, book_transaction, mark_closed
from handlers.pay.merchant import PayUnavailable, order_client, pay_enabled
from handlers.pay.refunds import book_refund, fail_refund, refund_payload
from models.base import write_tx
from models.pay import PayOrder, PayRefund

log = logging.getLogger(__name__)


class Clients:
    """The API clients of the merchants a job's orders name, made once each (None: a merchant
    whose keys cannot be used now; its orders wait for the next run)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.made: dict[str, wxpay.PayClient | None] = {}

    def of(self, mchid: str) -> wxpay.PayClient | None:
        if mchid not in self.made:
            try:
                self.made[mchid] = order_client(mchid, self.settings)
            except PayUnavailable:
                self.made[mchid] = None
        return self.made[mchid]


def _open_since(before: datetime) -> list[PayOrder]:
    return list(
        PayOrder.select()
        .where(PayOrder.state == "created", PayOrder.created_at <= before)
        .order_by(PayOrder.created_at, PayOrder.id)
    )


def query_open_orders(now: datetime, settings: Settings) -> Counter[str]:
    """Ask WeChat Pay about every open order older than pay.query_after_minutes: book the
    paid ones (their notification was lost), close the ones WeChat Pay closed."""
    counts: Counter[str] = Counter()
    if not pay_enabled(settings):
        return counts
    clients = Clients(settings)
    before = now - timedelta(minutes=settings.pay.query_after_minutes)
    for order in _open_since(before):
        if not order.prepay_id:
            counts["not sent"] += 1
            continue
        if (pay := clients.of(order.mchid)) is None:
            counts["failed"] += 1
            continue
        try:
            data = pay.query(order.out_trade_no)
        except wxpay.PayApiError as exc:
            log.warning("query of pay order %s failed: %s", order.out_trade_no, exc)
            counts["failed"] += 1
            continue
        state = data.get("trade_state")
        if state == "SUCCESS":
            try:
                counts[book_transaction(order.out_trade_no, data, now=now, settings=settings)
                       .outcome] += 1  # fmt: skip
            except Mismatch:
                counts["mismatch"] += 1
        elif state == "CLOSED":
            counts["closed"] += mark_closed(order, now)
        else:
            with write_tx():
                PayOrder.update(queried_at=now).where(PayOrder.id == order.id).execute()
            counts["open"] += 1
    return counts


def close_stale_orders(now: datetime, settings: Settings) -> Counter[str]:
    """Close every order still unpaid pay.close_after_minutes after it was created (a paid
    one found so is booked instead)."""
    counts: Counter[str] = Counter()
    if not pay_enabled(settings):
        return counts
    clients = Clients(settings)
    before = now - timedelta(minutes=settings.pay.close_after_minutes)
    for order in _open_since(before):
        if (pay := clients.of(order.mchid)) is None:
            counts["failed"] += 1
            continue
        try:
            if order.prepay_id:
                pay.close(order.out_trade_no)
        except wxpay.PayApiError as exc:
            if exc.code == "ORDERPAID":
                try:
                    data = pay.query(order.out_trade_no)
                    booked = book_transaction(order.out_trade_no, data, now=now, settings=settings)
                    counts[booked.outcome] += 1
                except (wxpay.PayApiError, Mismatch) as again:
                    log.warning("paid order %s not booked: %s", order.out_trade_no, again)
                    counts["failed"] += 1
                continue
            if exc.code != "ORDER_NOT_EXIST":
                log.warning("closing pay order %s failed: %s", order.out_trade_no, exc)
                counts["failed"] += 1
                continue
        counts["closed"] += mark_closed(order, now)
    return counts


def query_open_refunds(now: datetime, settings: Settings) -> Counter[str]:
    """Ask WeChat Pay about every refund still processing pay.query_after_minutes after it was
    asked: book the done ones (their notification was lost), fail the failed ones, and send
    again one WeChat Pay never received."""
    counts: Counter[str] = Counter()
    if not pay_enabled(settings):
        return counts
    clients = Clients(settings)
    before = now - timedelta(minutes=settings.pay.query_after_minutes)
    pending = (
        PayRefund.select()
        .where(PayRefund.state == "processing", PayRefund.created_at <= before)
        .order_by(PayRefund.created_at, PayRefund.id)
    )
    for refund in pending:
        if (pay := clients.of(PayOrder.get_by_id(refund.order_id).mchid)) is None:
            counts["refund query failed"] += 1
            continue
        try:
            data = pay.refund_query(refund.out_refund_no)
        except wxpay.PayApiError as exc:
            if exc.code == "RESOURCE_NOT_EXISTS":
                counts[_send_again(pay, refund, now, settings)] += 1
                continue
            log.warning("query of refund %s failed: %s", refund.out_refund_no, exc)
            counts["refund query failed"] += 1
            continue
        try:
            outcome = book_refund(refund.out_refund_no, data, now=now, settings=settings)
            counts["refund " + outcome] += 1
        except Mismatch:
            counts["refund mismatch"] += 1
        with write_tx():
            PayRefund.update(queried_at=now).where(PayRefund.id == refund.id).execute()
    return counts


def _send_again(pay: wxpay.PayClient, refund: PayRefund, now: datetime, settings: Settings) -> str:
    """A refund WeChat Pay does not know (the request was lost): the same request again."""
    order = PayOrder.get_by_id(refund.order_id)
    try:
        pay.refund(refund_payload(refund, order, settings))
    except wxpay.PayApiError as exc:
        if 400 <= exc.status < 500:
            fail_refund(refund, f"微信支付拒绝退款：{exc.message or exc.code}", now)
            return "refund refused"
        return "refund query failed"
    return "refund sent again"
