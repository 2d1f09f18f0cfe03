"""Months: arithmetic, parsing and the compact Chinese rendering of spans."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.datetext import DateTextError, parse_month, parse_month_range
from handlers.dues.money import fen_to_text
from handlers.errors import DomainError


def add_months(month: date, n: int) -> date:
    """Return the first day of the month n months after `month`."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_span(first: date, last: date) -> list[date]:
    """Return the months from first to last, inclusive."""
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [add_months(first, i) for i in range(max(count, 0))]


def this_month(now: datetime, tz: ZoneInfo) -> date:
    """Return the current month (its first day) in the branch time zone."""
    return local_day(now, tz).replace(day=1)


def month_label(month: date) -> str:
    return f"{month.year}年{month.month}月"


def months_text(months: Iterable[date]) -> str:
    """Render months compactly: 2026年1-3月、2026年5月、2025年11月-2026年2月."""
    ordered = sorted(set(months))
    runs: list[tuple[date, date]] = []
    for month in ordered:
        if runs and add_months(runs[-1][1], 1) == month:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    parts = []
    for first, last in runs:
        if first == last:
            parts.append(month_label(first))
        elif first.year == last.year:
            parts.append(f"{first.year}年{first.month}-{last.month}月")
        else:
            parts.append(f"{month_label(first)}-{month_label(last)}")
    return "、".join(parts) or "无"


def parse_months(text: str, *, now: datetime, tz: ZoneInfo) -> list[date]:
    """Parse "2026年1-3月", "1月", "本月" … into months; refuse with the parser's message."""
    try:
        return [date(y, m, 1) for y, m in parse_month_range(text, now=now, tz=tz)]
    except DateTextError as exc:
        raise DomainError(exc.message) from None


def parse_one_month(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    try:
        year, month = parse_month(text, now=now, tz=tz)
    except DateTextError as exc:
        raise DomainError(exc.message) from None
    return date(year, month, 1)


def amounts_text(plan: list[tuple[date, int]]) -> str:
    """Render per-month amounts grouped by equal amount: 2026年1-2月 每月 30.00元，2026年3月 …"""
    groups: list[tuple[list[date], int]] = []
    for month, fen in plan:
        if groups and groups[-1][1] == fen and add_months(groups[-1][0][-1], 1) == month:
            groups[-1][0].append(month)
        else:
            groups.append(([month], fen))
    return "，".join(
        f"{months_text(ms)} {'每月 ' if len(ms) > 1 else ''}{fen_to_text(fen)}"
        for ms, fen in groups
    )
