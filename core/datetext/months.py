"""Months and ranges of months: 2026年1月, 本月, 上月, 2026-01, 2026年1-3月."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.datetext.base import (
    EDGE_PUNCT,
    NUM,
    SEP,
    local_now,
    number,
    refusal,
    year_pattern,
    year_value,
)

MAX_MONTHS = 120
_MONTH_WORDS = {"本月": 0, "这月": 0, "这个月": 0, "当月": 0, "上月": -1, "上个月": -1}
_MONTH_WORDS |= {"下月": 1, "下个月": 1}
_MONTH_HINT = "请这样写，例如：2026年1月、1月、本月、上月、2026-01"
_RANGE_HINT = "请这样写，例如：2026年1-3月、2025年11月-2026年2月、1-3月、本月"
_MONTH = re.compile(rf"(?:{year_pattern('')})?(?P<m>{NUM})\s*月份?", re.ASCII)
_MONTH_ISO = re.compile(
    r"(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})|(?P<cy>\d{4})(?P<cm>\d{2})", re.ASCII
)
_MONTH_RANGE = re.compile(
    rf"(?:{year_pattern('a')})?(?P<am>{NUM})\s*(?:月份?)?{SEP}(?:{year_pattern('b')})?(?P<bm>{NUM})\s*月份?",
    re.ASCII,
)
_PERIOD_HINT = "请这样写，例如：2026-11、2026年11月、本月、上月，或一整年：2026、2026年、今年"
_YEAR_BARE = re.compile(r"\d{4}", re.ASCII)
_YEAR = re.compile(year_pattern(""), re.ASCII)
_MONTH_RANGE_ISO = re.compile(
    rf"(?P<ay>\d{{4}})[-/.](?P<am>\d{{1,2}}){SEP}(?P<by>\d{{4}})[-/.](?P<bm>\d{{1,2}})", re.ASCII
)


def _clean(text: str) -> str:
    """Fold text with NFKC and strip spaces and separators at both ends."""
    return unicodedata.normalize("NFKC", text).strip().strip(EDGE_PUNCT + " ")


def _shift(year: int, month: int, months: int) -> tuple[int, int]:
    """Return the month that is months after (year, month)."""
    n = year * 12 + month - 1 + months
    return n // 12, n % 12 + 1


def _month(s: str, today: date, hint: str) -> tuple[int, int]:
    """Parse one cleaned month expression."""
    if s in _MONTH_WORDS:
        return _shift(today.year, today.month, _MONTH_WORDS[s])
    year: int | None
    m = _MONTH.fullmatch(s)
    if m:
        year, month = year_value(m.groupdict(), "", today), number(m["m"])
    elif m := _MONTH_ISO.fullmatch(s):
        year, month = int(m["y"] or m["cy"]), int(m["m"] or m["cm"])
    else:
        raise refusal(f"没看懂月份“{s}”", [], hint)
    if not 1 <= month <= 12:
        raise refusal(f"“{s}”不是有效月份：没有{month}月", [], hint)
    year = today.year if year is None else year
    if not 1900 <= year <= 2100:
        raise refusal(f"“{s}”的年份{year}不对", [], hint)
    return year, month


def parse_month(text: str, *, now: datetime, tz: ZoneInfo) -> tuple[int, int]:
    """Parse a month as (year, month): 2026年1月, 1月 (now's year), 本月, 上月, 2026-01."""
    return _month(_clean(text), local_now(now, tz).date(), _MONTH_HINT)


def parse_period(text: str, *, now: datetime, tz: ZoneInfo) -> tuple[int, int | None]:
    """Parse a month as (year, month), or a whole year as (year, None): 2026-11, 2026年11月,
    本月, 上月; 2026, 2026年, 二〇二六年, 今年, 去年."""
    today = local_now(now, tz).date()
    s = _clean(text)
    written = _YEAR.fullmatch(s)
    if _YEAR_BARE.fullmatch(s):
        year = int(s)
    elif written and (found := year_value(written.groupdict(), "", today)) is not None:
        year = found
    else:
        return _month(s, today, _PERIOD_HINT)
    if not 1900 <= year <= 2100:
        raise refusal(f"“{s}”的年份{year}不对", [], _PERIOD_HINT)
    return year, None


def parse_month_range(text: str, *, now: datetime, tz: ZoneInfo) -> list[tuple[int, int]]:
    """Parse a month or an inclusive range of months into (year, month) pairs, in order."""
    today = local_now(now, tz).date()
    s = _clean(text)
    m = _MONTH_RANGE.fullmatch(s) or _MONTH_RANGE_ISO.fullmatch(s)
    if m is None:
        return [_month(s, today, _RANGE_HINT)]
    g = m.groupdict()
    first_year, last_year = year_value(g, "a", today), year_value(g, "b", today)
    first_month, last_month = number(g["am"] or ""), number(g["bm"] or "")
    for month in (first_month, last_month):
        if not 1 <= month <= 12:
            raise refusal(f"“{s}”里的月份不对：没有{month}月", [], _RANGE_HINT)
    if first_year is None:
        first_year = today.year if last_year is None else last_year
    if last_year is None:
        last_year = first_year
    for year in (first_year, last_year):
        if not 1900 <= year <= 2100:
            raise refusal(f"“{s}”的年份{year}不对", [], _RANGE_HINT)
    first, last = (first_year, first_month), (last_year, last_month)
    understood = [f"从{first_year}年{first_month}月到{last_year}年{last_month}月"]
    if last < first:
        raise refusal(f"“{s}”的起始月份晚于结束月份", understood, _RANGE_HINT)
    count = (last_year - first_year) * 12 + last_month - first_month + 1
    if count > MAX_MONTHS:
        raise refusal(f"“{s}”的范围太大：最多{MAX_MONTHS}个月", understood, _RANGE_HINT)
    return [_shift(first_year, first_month, i) for i in range(count)]
