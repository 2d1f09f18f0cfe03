"""Planning a payment: the months a sum covers, checked to the fen, or the refusal."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN

from core.clock import local_day
from handlers.dues.access import PAY_EXAMPLE, SET_EXAMPLE, require_party_member
from handlers.dues.book import Book, Due
from handlers.dues.money import MoneyError, Settings, fen_to_text, yuan
from handlers.dues.months import (
    add_months,
    amounts_text,
    month_label,
    month_span,
    months_text,
    this_month,
)
from handlers.errors import Conflict, DomainError
from models.dues import (
    PAYMENT_SOURCES,
    DuesPayment,
)
from models.org import Member


class DuplicateMonth(Conflict):
    """A month is already paid; the message shows the existing entry."""

    errcode = "duplicate_month"


def describe_entry(payment: DuesPayment, tz: ZoneInfo) -> str:
    """Name a ledger entry: 记录编号 12（30.00元，2026年2月5日 由 李四 登记，收缴员登记）."""
    if payment.recorded_by_id:
        who = payment.recorded_by.name
    else:
        who = "微信支付" if payment.source == "wxpay" else "管理员"
    day = local_day(payment.recorded_at, tz)
    source = PAYMENT_SOURCES.get(payment.source, payment.source)
    return (
        f"记录编号 {payment.id}（{fen_to_text(payment.amount_fen)}，"
        f"{day.year}年{day.month}月{day.day}日 由 {who} 登记，{source}）"
    )


def duplicate_month(member: Member, month: date, row: Any, tz: ZoneInfo) -> DuplicateMonth:
    payment = (
        DuesPayment.select(DuesPayment, Member)
        .join(Member, JOIN.LEFT_OUTER, on=DuesPayment.recorded_by == Member.id)
        .where(DuesPayment.id == row.payment_id)
        .get()
    )
    return DuplicateMonth(
        f"{member.name} {month_label(month)}的党费已经登记过了：{describe_entry(payment, tz)}。"
        "同一月份不能重复登记。",
        chat_hint=f"如原记录有误，请先发送“更正党费 {payment.id} 原因”，再重新登记。",
    )


def plan_payment(
    book: Book,
    member: Member,
    amount_fen: int,
    months: list[date] | None,
    *,
    now: datetime,
    settings: Settings,
    taken: set[date] | frozenset[date] = frozenset(),
) -> list[tuple[date, int]]:
    """Return the months a dues payment covers with each month's amount, or explain the refusal.

    `taken` holds months already claimed by earlier rows of the same import.
    """
    cfg = settings.dues
    tz = ZoneInfo(settings.app.timezone)
    require_party_member(member)
    _check_amount(amount_fen, cfg)
    start = book.start
    if start is None:
        raise DomainError(
            f"{member.name}还没有设置党费类别和工资基数，无法计算应交金额。",
            errcode="dues_not_set",
            chat_hint=f"请先发送：{SET_EXAMPLE.replace('张三', member.name)}",
        )
    current = this_month(now, tz)
    latest = add_months(current, cfg.prepay_max_months)
    if months is None:
        return _allocate(book, member, amount_fen, start, current, latest, settings, taken)
    plan = [
        _planned_month(book, member, month, start, latest, settings, taken, tz) for month in months
    ]
    _check_total(member, months, plan, amount_fen)
    return plan


def _check_amount(amount_fen: int, cfg: dict[str, Any]) -> None:
    """Refuse a sum that is not above 0 or above the cap of one payment."""
    if amount_fen <= 0:
        raise MoneyError(f"金额应大于 0，例如：{PAY_EXAMPLE}")
    if amount_fen > cfg.max_payment_fen:
        raise MoneyError(
            f"金额 {fen_to_text(amount_fen)} 超过单笔上限 {fen_to_text(cfg.max_payment_fen)}，"
            "请核对是否多写了数字。",
            errcode="amount_too_large",
        )


def _planned_month(
    book: Book,
    member: Member,
    month: date,
    start: date,
    latest: date,
    settings: Settings,
    taken: set[date] | frozenset[date],
    tz: ZoneInfo,
) -> tuple[date, int]:
    """A month a payment names with its amount, or the refusal: before the start month, too
    far ahead, already paid, named twice in a file, or exempt."""
    cfg = settings.dues
    if month < start:
        why = (
            f"（{month_label(book.joined_on.replace(day=1))}入党）"
            if book.joined_on and start == book.joined_on.replace(day=1)
            else ""
        )
        raise DomainError(
            f"{member.name}从 {month_label(start)} 起交纳党费{why}，"
            f"{month_label(month)}不需要交纳。请核对月份。",
            errcode="month_before_start",
        )
    if month > latest:
        raise DomainError(
            f"{month_label(month)}超出了可预交的范围：最多预交到 {month_label(latest)}"
            f"（本月之后 {cfg.prepay_max_months} 个月）。请核对月份。",
            errcode="month_too_far_ahead",
        )
    if month in book.paid:
        raise duplicate_month(member, month, book.paid[month], tz)
    if month in taken:
        raise DomainError(f"{month_label(month)}在本文件中已经登记过一次，不能重复登记。")
    due = book.due(month, settings)
    if due.state == "exempt":
        raise DomainError(
            f"{member.name} {month_label(month)}免交党费（{_exempt_reason(due)}），无需交纳。",
            errcode="month_exempt",
        )
    return month, due.amount_fen


def _check_total(
    member: Member, months: list[date], plan: list[tuple[date, int]], amount_fen: int
) -> None:
    """Refuse a sum that is not the named months' dues to the fen."""
    total = sum(fen for _, fen in plan)
    if total == amount_fen:
        return
    extra = amount_fen - total
    hint = (
        f"；多交的部分可另行登记为自愿交纳：收党费 {member.name} {yuan(extra)} 自愿"
        if extra > 0
        else ""
    )
    raise DomainError(
        f"{member.name} {months_text(months)}应交 {fen_to_text(total)}"
        f"（{amounts_text(plan)}），与所填金额 {fen_to_text(amount_fen)} 不符。"
        f"请核对金额或月份，例如：收党费 {member.name} {yuan(total)} "
        f"{months_text(months)}{hint}",
        errcode="amount_mismatch",
    )


def _exempt_reason(due: Due) -> str:
    if due.relief is not None:
        return f"困难减免，{due.relief.approved_by}批准"
    return "免交类别"


def _allocate(
    book: Book,
    member: Member,
    amount_fen: int,
    start: date,
    current: date,
    latest: date,
    settings: Settings,
    taken: set[date] | frozenset[date],
) -> list[tuple[date, int]]:
    """Take the oldest unpaid months, then months ahead, whose dues add up to the amount."""
    plan: list[tuple[date, int]] = []
    total = 0
    for month in month_span(start, latest):
        if month in book.paid or month in taken:
            continue
        due = book.due(month, settings)
        if due.state != "due":
            continue
        plan.append((month, due.amount_fen))
        total += due.amount_fen
        if total >= amount_fen:
            break
    if total == amount_fen:
        return plan
    owed = [(m, fen) for m, fen in book.owed(settings, current) if m not in taken]
    owed_fen = sum(fen for _, fen in owed)
    if owed:
        situation = (
            f"{member.name}欠交 {months_text(m for m, _ in owed)}，共 {fen_to_text(owed_fen)}"
            f"（{amounts_text(owed)}）"
        )
        example = f"收党费 {member.name} {yuan(owed_fen)} {months_text(m for m, _ in owed)}"
    else:
        nxt = next(iter(plan), None)
        situation = f"{member.name}目前没有欠交的党费" + (
            f"，{month_label(nxt[0])}起每月应交 {fen_to_text(nxt[1])}" if nxt else ""
        )
        example = (
            f"收党费 {member.name} {yuan(nxt[1])} {month_label(nxt[0])}"
            if nxt
            else f"收党费 {member.name} {yuan(amount_fen)} 自愿"
        )
    raise DomainError(
        f"{situation}。所填 {fen_to_text(amount_fen)} 不能正好对应若干个月的党费，"
        f"请写明月份并按应交金额登记，例如：{example}",
        errcode="amount_mismatch",
    )
