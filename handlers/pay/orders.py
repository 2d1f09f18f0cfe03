"""Paying dues in the mini-program: the order, its amount from the member's dues, the prepay."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from peewee import IntegrityError

from core import wxpay
from core.config import Settings
from handlers.dues import load_book, plan_payment, this_month
from handlers.errors import Conflict, DomainError
from handlers.pay.booking import book_transaction, mark_closed
from handlers.pay.merchant import UNAVAILABLE, PayUnavailable, member_merchant, order_client
from models.base import write_tx
from models.org import Member
from models.pay import PayOrder, plan_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PayRequest:
    """An open order and the signed parameters of wx.requestPayment for it."""

    order: PayOrder
    params: dict[str, str]
    reused: bool


def request_payment(
    member: Member, openid: str, months: list[date] | None, *, now: datetime, settings: Settings
) -> PayRequest:
    """交党费（微信支付）: an order for the months named, or for every month owed; the same
    open order again when asked twice for the same months."""
    mchid = member_merchant(member, settings).mchid  # PayNotConfigured without one
    plan = _plan(member, months, now, settings)
    order, reused = _open_order(member, openid, plan_text(plan), mchid, now, settings)
    if not order.prepay_id:
        _prepay(order, settings)
    params = order_client(order.mchid, settings).request_payment_params(order.prepay_id)
    return PayRequest(order, params, reused)


def _plan(
    member: Member, months: list[date] | None, now: datetime, settings: Settings
) -> list[tuple[date, int]]:
    """The months and amounts to pay, computed here from the member's dues, never sent in."""
    book = load_book(member)
    if months is None:
        if book.start is None:  # no category yet: plan_payment says so, in its words
            plan_payment(book, member, 1, None, now=now, settings=settings)
        owed = book.owed(settings, this_month(now, ZoneInfo(settings.app.timezone)))
        if not owed:
            raise DomainError(
                "您目前没有欠交的党费。如需预交，请选择要交纳的月份。", errcode="nothing_owed"
            )
        months = [m for m, _ in owed]
    total = sum(book.due(m, settings).amount_fen for m in months)
    # plan_payment refuses each month that cannot be paid (before the start, too far ahead,
    # paid, exempt) in its own words; with nothing due it needs a sum above 0 to get there.
    plan = plan_payment(book, member, max(total, 1), months, now=now, settings=settings)
    if total <= 0:
        raise DomainError("所选月份无需交纳党费，请核对月份。", errcode="nothing_due")
    return plan


def _new_number(now: datetime, settings: Settings) -> str:
    local = now.astimezone(ZoneInfo(settings.app.timezone))
    return "DF" + local.strftime("%Y%m%d%H%M%S") + secrets.token_hex(5).upper()


def _open_order(
    member: Member, openid: str, months: str, mchid: str, now: datetime, settings: Settings
) -> tuple[PayOrder, bool]:
    """The member's open order for these months, or a new one (closing an open order for
    other months first: one open order per member)."""
    existing = PayOrder.get_or_none(PayOrder.open_member == member.id)
    wanted = (months, openid, mchid)
    if existing is not None and (existing.months, existing.openid, existing.mchid) == wanted:
        return existing, True
    if existing is not None:
        _close_other(existing, now, settings)
    total = sum(int(part.partition(":")[2]) for part in months.split(","))
    try:
        with write_tx():
            order = PayOrder.create(
                out_trade_no=_new_number(now, settings),
                mchid=mchid,
                member=member.id,
                months=months,
                amount_fen=total,
                openid=openid,
                open_member=member.id,
                created_at=now,
            )
    except IntegrityError:  # a second request at the same moment created it
        order = PayOrder.get_or_none(PayOrder.open_member == member.id)
        if order is None or (order.months, order.openid, order.mchid) != wanted:
            raise Conflict(
                "另一笔党费支付正在创建，请稍后刷新再试。", errcode="order_pending"
            ) from None
        return order, True
    log.info("pay order %s: member %s, %d fen", order.out_trade_no, member.id, total)
    return order, False


def _close_other(order: PayOrder, now: datetime, settings: Settings) -> None:
    """Close the member's open order for other months at WeChat Pay, or book it if paid."""
    pay = order_client(order.mchid, settings)
    try:
        if order.prepay_id:
            pay.close(order.out_trade_no)
    except wxpay.PayApiError as exc:
        if exc.code != "ORDERPAID":
            log.warning("closing pay order %s failed: %s", order.out_trade_no, exc)
            raise PayUnavailable(UNAVAILABLE) from None
        book_transaction(
            order.out_trade_no, pay.query(order.out_trade_no), now=now, settings=settings
        )
        raise Conflict(
            "您上一笔党费已经支付成功，请刷新查看后再选择要交纳的月份。", errcode="order_paid"
        ) from None
    mark_closed(order, now)


def _prepay(order: PayOrder, settings: Settings) -> None:
    """Ask WeChat Pay for the order's prepay id (the same one again for the same order)."""
    pay = settings.pay
    client = order_client(order.mchid, settings)
    try:
        prepay_id = client.jsapi(
            client.appid,
            order.out_trade_no,
            pay.description,
            order.amount_fen,
            order.openid,
            pay.notify_url,
        )
    except wxpay.PayApiError as exc:
        log.warning("prepay of %s failed: %s", order.out_trade_no, exc)
        raise PayUnavailable(UNAVAILABLE) from None
    with write_tx():
        PayOrder.update(prepay_id=prepay_id).where(PayOrder.id == order.id).execute()
    order.prepay_id = prepay_id
