"""The daily reconciliation: WeChat Pay's trade bill of a day, line by line, against the ledger.

Every payment line must be an order booked in the ledger for the same fen; every refund line a
refund booked as done for the same fen; and every order booked (refund done) that day must be in
the bill. What does not match is a PayDifference: one row per (kind, number), so a difference is
listed in the digests until it matches later (the order booked, the payment found in the next
day's bill, the refund done) or a collector settles it — and never twice.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core import wxpay
from core.config import Settings
from handlers.audit import record
from handlers.branches import branch_acted_for
from handlers.dues import DUES_ROLES, fen_to_text, hidden, yuan_to_fen
from handlers.errors import DomainError, Invalid
from handlers.pay.merchant import UNAVAILABLE, PayUnavailable, client, merchants, require_pay
from models.base import write_tx
from models.org import Member
from models.pay import PayDifference, PayOrder, PayRefund

log = logging.getLogger(__name__)

SUMMARY_MARK = "总交易单数"  # the bill's totals start here


@dataclass(frozen=True)
class BillLine:
    """A line of the trade bill: a payment (SUCCESS) or a refund (REFUND), in fen."""

    kind: str  # payment | refund
    out_trade_no: str
    transaction_id: str
    out_refund_no: str
    fen: int


@dataclass(frozen=True)
class Found:
    kind: str
    ref: str
    branch_id: int | None
    detail: str
    bill_fen: int | None = None
    ledger_fen: int | None = None


@dataclass
class Reconciled:
    """A day reconciled: the bill's lines, what matched, the differences (new and still open)."""

    day: date
    payments: int = 0
    refunds: int = 0
    bill_fen: int = 0
    refunded_fen: int = 0
    matched: int = 0
    new: list[PayDifference] = field(default_factory=list)
    open: list[PayDifference] = field(default_factory=list)
    resolved: int = 0


def parse_bill(text: str) -> list[BillLine]:
    """The payment and refund lines of an ALL trade bill (every field starts with "`")."""
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return []
    header = rows[0]
    out = []
    for row in rows[1:]:
        if row and row[0].lstrip("`") == SUMMARY_MARK:
            break
        cells = dict(zip(header, (cell.lstrip("`") for cell in row), strict=False))
        state = cells.get("交易状态", "")
        if state not in ("SUCCESS", "REFUND"):
            continue
        refund = state == "REFUND"
        amount = cells.get("退款金额" if refund else "应结订单金额", "")
        out.append(
            BillLine(
                "refund" if refund else "payment",
                cells.get("商户订单号", ""),
                cells.get("微信订单号", ""),
                cells.get("商户退款单号", "") if refund else "",
                yuan_to_fen(amount),
            )
        )
    return out


def _lines(day: date, settings: Settings) -> list[BillLine]:
    """The day's bill lines of every merchant (each committee's and the default)."""
    require_pay(settings)
    lines: list[BillLine] = []
    for merchant in merchants(settings).values():
        lines += parse_bill(_bill(day, client(settings, merchant)))
    return lines


def _bill(day: date, pay: wxpay.PayClient) -> str:
    try:
        return pay.trade_bill(day.isoformat())
    except wxpay.PayApiError as exc:
        if exc.code == "NO_STATEMENT_EXIST":
            raise DomainError(
                f"微信支付尚未生成 {day.isoformat()} 的账单（次日 10 点后可下载），请稍后再对账。",
                errcode="no_bill",
            ) from None
        log.warning("trade bill of %s (%s) not downloaded: %s", day, pay.mchid, exc)
        raise PayUnavailable(UNAVAILABLE) from None


def reconcile_day(day: date, *, now: datetime, settings: Settings) -> Reconciled:
    """对账: the day's trade bill against the ledger; differences stored, matched ones resolved."""
    lines = _lines(day, settings)
    done = Reconciled(day)
    found: list[Found] = []
    with write_tx():
        for line in lines:
            if line.kind == "payment":
                done.payments += 1
                done.bill_fen += line.fen
                problem = _payment(line, day)
            else:
                done.refunds += 1
                done.refunded_fen += line.fen
                problem = _refund(line, day)
            if problem is None:
                done.matched += 1
            else:
                found.append(problem)
        found += _not_in_bill(day, settings)
        done.new = _store(found, day, now)
        done.resolved = resolve_matched(now)
    done.open = [d for d in _open_of({(f.kind, f.ref) for f in found})]
    log.info(
        "pay reconciliation %s: %d lines, %d matched, %d new differences, %d resolved",
        day, len(lines), done.matched, len(done.new), done.resolved,
    )  # fmt: skip
    return done


def _who(order: PayOrder) -> tuple[int, str]:
    member = Member.get_by_id(order.member_id)
    return member.branch_id, member.name


def _payment(line: BillLine, day: date) -> Found | None:
    order = PayOrder.get_or_none(PayOrder.out_trade_no == line.out_trade_no)
    if order is None:
        return Found(
            "unbooked", line.out_trade_no, None,
            f"账单有一笔 {fen_to_text(line.fen)} 的收款（微信支付单号 {line.transaction_id}），"
            "但系统中没有这笔订单", line.fen,
        )  # fmt: skip
    if order.billed_on is None:
        PayOrder.update(billed_on=day).where(PayOrder.id == order.id).execute()
    branch_id, name = _who(order)
    if order.payment_id is None and order.state != "refunded":
        return Found(
            "unbooked", order.out_trade_no, branch_id,
            f"{name} 通过微信支付交纳的 {fen_to_text(line.fen)} 已到账，但未记入党费账目"
            f"（订单{order.state_label}{'，' + order.problem if order.problem else ''}）",
            line.fen, 0,
        )  # fmt: skip
    if line.fen != order.amount_fen:
        return Found(
            "amount", order.out_trade_no, branch_id,
            f"{name} 的微信支付账单金额 {fen_to_text(line.fen)}，"
            f"党费账目为 {fen_to_text(order.amount_fen)}",
            line.fen, order.amount_fen,
        )  # fmt: skip
    return None


def _refund(line: BillLine, day: date) -> Found | None:
    refund = PayRefund.get_or_none(PayRefund.out_refund_no == line.out_refund_no)
    order = PayOrder.get_or_none(PayOrder.out_trade_no == line.out_trade_no)
    branch_id, name = _who(order) if order else (None, "")
    if refund is None or refund.state != "success":
        return Found(
            "refund", line.out_refund_no, branch_id,
            f"账单有一笔退款 {fen_to_text(line.fen)}（{name or '订单 ' + line.out_trade_no}），"
            "但系统中没有已成功的这笔退款",
            line.fen, refund.amount_fen if refund else None,
        )  # fmt: skip
    if refund.billed_on is None:
        PayRefund.update(billed_on=day).where(PayRefund.id == refund.id).execute()
    if line.fen != refund.amount_fen:
        return Found(
            "refund", refund.out_refund_no, branch_id,
            f"{name} 的退款账单金额 {fen_to_text(line.fen)}，系统记录为 "
            f"{fen_to_text(refund.amount_fen)}",
            line.fen, refund.amount_fen,
        )  # fmt: skip
    return None


def _bounds(day: date, settings: Settings) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), ZoneInfo(settings.app.timezone))
    return start, start + timedelta(days=1)


def _not_in_bill(day: date, settings: Settings) -> list[Found]:
    """Orders booked and refunds done that day that no bill has listed."""
    start, end = _bounds(day, settings)
    found = []
    orders = PayOrder.select().where(
        PayOrder.paid_at >= start, PayOrder.paid_at < end, PayOrder.billed_on.is_null()
    )
    for order in orders:
        branch_id, name = _who(order)
        found.append(
            Found(
                "unpaid",
                order.out_trade_no,
                branch_id,
                f"{name} 的 {fen_to_text(order.amount_fen)} 已按微信支付记入党费账目"
                f"（微信支付单号 {order.transaction_id}），但账单上没有这笔收款",
                0,
                order.amount_fen,
            )  # fmt: skip
        )
    refunds = PayRefund.select().where(
        PayRefund.succeeded_at >= start,
        PayRefund.succeeded_at < end,
        PayRefund.billed_on.is_null(),
    )
    for refund in refunds:
        branch_id, name = _who(PayOrder.get_by_id(refund.order_id))
        found.append(
            Found(
                "refund",
                refund.out_refund_no,
                branch_id,
                f"{name} 的退款 {fen_to_text(refund.amount_fen)} 已记账，但账单上没有这笔退款",
                0,
                refund.amount_fen,
            )  # fmt: skip
        )
    return found


def _store(found: Iterable[Found], day: date, now: datetime) -> list[PayDifference]:
    """Keep each difference once: a known one (open or settled) is not stored again."""
    new = []
    for f in found:
        row, created = PayDifference.get_or_create(
            kind=f.kind,
            ref=f.ref,
            defaults={
                "branch": f.branch_id,
                "day": day,
                "detail": f.detail[:300],
                "bill_fen": f.bill_fen,
                "ledger_fen": f.ledger_fen,
                "found_at": now,
            },
        )
        if created:
            new.append(row)
    return new


def _matched(diff: PayDifference) -> str | None:
    """Why an open difference no longer holds (None: it still does)."""
    if diff.kind == "refund":
        refund = PayRefund.get_or_none(PayRefund.out_refund_no == diff.ref)
        if refund and refund.state == "success" and refund.billed_on is not None:
            return "退款已对上"
        return None
    order = PayOrder.get_or_none(PayOrder.out_trade_no == diff.ref)
    if order is None:
        return None
    if diff.kind == "unbooked" and (order.payment_id is not None or order.state == "refunded"):
        return "已入账" if order.payment_id is not None else "已退款"
    if diff.kind == "unpaid" and order.billed_on is not None:
        return f"已在 {order.billed_on.isoformat()} 的账单中对上"
    if diff.kind == "amount" and order.state == "refunded":
        return "已退款"
    return None


def resolve_matched(now: datetime) -> int:
    """Close every open difference that matches now; how many."""
    count = 0
    for diff in PayDifference.select().where(PayDifference.resolved_at.is_null()):
        why = _matched(diff)
        if why is not None:
            PayDifference.update(resolved_at=now, resolution=why).where(
                PayDifference.id == diff.id
            ).execute()
            count += 1
    return count


def _open_of(keys: set[tuple[str, str]]) -> list[PayDifference]:
    rows = PayDifference.select().where(PayDifference.resolved_at.is_null())
    return [d for d in rows.order_by(PayDifference.id) if (d.kind, d.ref) in keys]


def settle_difference(
    actor: Member, branch_id: int, difference_id: int, note: str, *, now: datetime
) -> PayDifference:
    """已核对: a collector closes a difference with what was done about it."""
    branch = branch_acted_for(actor, branch_id, DUES_ROLES)
    diff = PayDifference.get_or_none(
        PayDifference.id == difference_id, PayDifference.branch == branch.id
    )
    if diff is None:
        raise hidden()
    note = " ".join(note.split())
    if not note:
        raise Invalid("请写明处理情况，例如：已联系党员补登。", errcode="note_required")
    with write_tx():
        PayDifference.update(resolved_at=now, resolution=note[:200], resolved_by=actor.id).where(
            PayDifference.id == diff.id, PayDifference.resolved_at.is_null()
        ).execute()
        record(
            actor,
            "dues.reconcile",
            summary=f"核对微信支付对账差异：{diff.kind_label} {diff.ref}，{note}",
            target=f"pay_difference:{diff.id}",
            branch_id=branch.id,
            now=now,
        )
    return PayDifference.get_by_id(diff.id)
