"""Recording payments: dues for months, voluntary payments, reversals."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from peewee import IntegrityError, fn

from handlers.dues.access import require_collector, require_party_member
from handlers.dues.book import reversed_ids
from handlers.dues.loaders import load_book
from handlers.dues.money import MoneyError, Settings, fen_to_text
from handlers.dues.planning import duplicate_month, plan_payment
from handlers.dues.trail import amount_words, record_dues
from handlers.errors import Conflict, DomainError, NotFound
from models.base import db
from models.dues import (
    DuesMonth,
    DuesPayment,
    DuesReport,
)
from models.org import Branch, Member

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    payment: DuesPayment
    months: list[tuple[date, int]]


def _seqs(member_id: int, months: list[date]) -> dict[date, int]:
    """How many reversed payments each month had: the seq a new live row takes.

    Only reversed rows are counted, never a live one: a payment committed by someone else after
    this one was planned then has the same seq, and the unique index refuses the second.
    """
    rows = (
        DuesMonth.select(DuesMonth.month, fn.COUNT(DuesMonth.id))
        .where(
            DuesMonth.member == member_id,
            DuesMonth.month.in_(months),
            DuesMonth.payment.in_(reversed_ids()),
        )
        .group_by(DuesMonth.month)
        .tuples()
    )
    found = {DuesMonth.month.python_value(m): n for m, n in rows}
    return {m: found.get(m, 0) for m in months}


def insert_payment(
    actor: Member | None,
    member: Member,
    plan: list[tuple[date, int]],
    *,
    source: str,
    now: datetime,
    report: DuesReport | None = None,
    note: str = "",
) -> DuesPayment:
    """Write one dues payment and its months (the unique index guards each month)."""
    seqs = _seqs(member.id, [m for m, _ in plan])
    payment = DuesPayment.create(
        member=member.id,
        kind="dues",
        amount_fen=sum(fen for _, fen in plan),
        source=source,
        report=report.id if report else None,
        note=note.strip()[:200],
        recorded_by=actor.id if actor else None,
        recorded_at=now,
    )
    DuesMonth.insert_many(
        [
            {
                "payment": payment.id,
                "member": member.id,
                "month": month,
                "amount_fen": fen,
                "seq": seqs[month],
            }
            for month, fen in plan
        ]
    ).execute()
    return payment


def record_payment(
    actor: Member | None,
    member: Member,
    amount_fen: int,
    months: list[date] | None,
    *,
    now: datetime,
    settings: Settings,
    source: str = "collector",
    report: DuesReport | None = None,
    note: str = "",
) -> Recorded:
    """收党费: record dues for some months (or the oldest unpaid ones), checked to the fen."""
    tz = ZoneInfo(settings.app.timezone)
    require_collector(actor, Branch.get_by_id(member.branch_id))
    book = load_book(member)
    plan = plan_payment(book, member, amount_fen, months, now=now, settings=settings)
    try:
        with db.atomic():
            payment = insert_payment(
                actor, member, plan, source=source, now=now, report=report, note=note
            )
            if report is None:  # a confirmed report is recorded as its confirmation
                _record_paid(actor, member, payment, [m for m, _ in plan], now)
    except IntegrityError:
        # Another collector recorded one of these months (or this report) at the same moment.
        book = load_book(member)
        for month, _ in plan:
            if month in book.paid:
                raise duplicate_month(member, month, book.paid[month], tz) from None
        if report is not None:
            raise Conflict(
                f"{member.name}的这笔报告刚刚已被确认，无需重复确认。",
                errcode="report_decided",
            ) from None
        raise
    log.info("dues payment %s: member %s, %d months", payment.id, member.id, len(plan))
    return Recorded(payment, plan)


def _record_paid(
    actor: Member | None, member: Member, payment: DuesPayment, months: list[date], now: datetime
) -> None:
    words = amount_words(payment.amount_fen, months)
    kind = "自愿交纳" if payment.kind == "voluntary" else "党费"
    record_dues(
        actor,
        "dues.payment",
        f"登记缴费：{member.name} {kind} {words}",
        member,
        target=f"dues_payment:{payment.id}",
        now=now,
        after={
            "member_id": member.id,
            "kind": payment.kind,
            "amount_fen": payment.amount_fen,
            "months": months,
        },
    )


def record_voluntary(
    actor: Member | None,
    member: Member,
    amount_fen: int,
    *,
    now: datetime,
    settings: Settings,
    source: str = "collector",
    note: str = "",
) -> DuesPayment:
    """Record a voluntary payment (自愿交纳): no months; kept apart from the monthly dues."""
    cfg = settings.dues
    require_collector(actor, Branch.get_by_id(member.branch_id))
    require_party_member(member)
    if amount_fen <= 0:
        raise MoneyError(f"金额应大于 0，例如：收党费 {member.name} 1000.00 自愿")
    if amount_fen > cfg.max_payment_fen:
        raise MoneyError(
            f"金额 {fen_to_text(amount_fen)} 超过单笔上限 {fen_to_text(cfg.max_payment_fen)}，"
            "请核对是否多写了数字。",
            errcode="amount_too_large",
        )
    with db.atomic():
        payment = DuesPayment.create(
            member=member.id,
            kind="voluntary",
            amount_fen=amount_fen,
            source=source,
            note=note.strip()[:200],
            recorded_by=actor.id if actor else None,
            recorded_at=now,
        )
        if source != "import":  # a file's import is recorded once, with its counts
            _record_paid(actor, member, payment, [], now)
    return payment


def goes_up_whole(payment: DuesPayment, settings: Settings) -> bool:
    """A voluntary payment at or above the threshold goes upward whole (DOMAIN.md)."""
    return payment.kind == "voluntary" and payment.amount_fen >= settings.dues.voluntary_whole_fen


def reverse_payment(
    actor: Member | None,
    payment_id: int,
    reason: str,
    *,
    now: datetime,
    refund: bool = False,
) -> DuesPayment:
    """更正党费: cancel an entry with a new, opposite one; its months may then be paid again.

    An entry paid with WeChat Pay is cancelled only by its refund (``refund``: WeChat Pay
    reported the money back with the payer), never by hand while the money stays with us."""
    original = DuesPayment.get_or_none(DuesPayment.id == payment_id)
    if original is None:
        raise NotFound(f"没有编号为 {payment_id} 的党费记录，请核对编号。", errcode="not_found")
    member = Member.get_by_id(original.member_id)
    require_collector(actor, Branch.get_by_id(member.branch_id))
    if original.kind == "reversal":
        raise DomainError(
            f"记录 {payment_id} 本身就是一条更正记录，不能再更正。", errcode="not_reversible"
        )
    if original.source == "wxpay" and not refund:
        raise DomainError(
            f"记录 {payment_id} 是通过微信支付交纳的党费，不能直接更正。如交错了，请办理退款"
            "（钱款原路退回党员），退款成功后这条记录自动作废。",
            errcode="use_refund",
        )
    reason = reason.strip()
    if not reason:
        raise DomainError(
            f"请写明更正原因，例如：更正党费 {payment_id} 金额登记错误",
            errcode="reason_required",
        )
    try:
        with db.atomic():
            entry = DuesPayment.create(
                member=member.id,
                kind="reversal",
                amount_fen=-original.amount_fen,
                source="wxpay" if refund else "collector" if actor else "cli",
                reverses=original.id,
                note=reason[:200],
                recorded_by=actor.id if actor else None,
                recorded_at=now,
            )
            record_dues(
                actor,
                "dues.reverse",
                f"{'微信支付退款' if refund else '冲正缴费'}：{member.name} 记录{payment_id} "
                f"{amount_words(original.amount_fen)}，原因：{reason}",
                member,
                target=f"dues_payment:{payment_id}",
                now=now,
                before={"payment_id": payment_id, "amount_fen": original.amount_fen},
                after={"reversal_id": entry.id, "amount_fen": entry.amount_fen, "reason": reason},
            )
    except IntegrityError:
        raise Conflict(
            f"记录 {payment_id} 已经更正过了，无需重复更正。",
            errcode="already_reversed",
        ) from None
    log.info("dues payment %s reversed by %s", payment_id, entry.id)
    return entry
