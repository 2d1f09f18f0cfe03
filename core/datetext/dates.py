"""Dates: 12月3日, 2026-12-03, 明天, 周五, 下周三, 5号; the date words next to one must agree."""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from core.datetext.base import (
    EXAMPLE,
    NOT_AFTER_NUMBER,
    NUM,
    WEEK,
    BadToken,
    fmt_date,
    number,
    year_pattern,
    year_value,
)

_WEEKDAY_NUM = {c: i for i, c in enumerate(WEEK)} | {"天": 6} | {str(i + 1): i for i in range(7)}
_REL_DAYS = {"今天": 0, "今日": 0, "今": 0, "明天": 1, "明日": 1, "明": 1, "后天": 2, "大后天": 3}
_REL_DAYS |= {"昨天": -1, "昨日": -1, "前天": -2}
DATE_HINT = "请改正日期，例如：12月3日、2026-12-03、明天、周五、下周三"
_DATE_ISO = re.compile(
    r"(?<![\d.])(?P<y>\d{4})(?P<s>[-/.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?![\d:])", re.ASCII
)
_DATE_COMPACT = re.compile(
    r"(?<![\d.])(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})(?!\d)", re.ASCII
)
_DATE_MD = re.compile(
    rf"(?:{year_pattern('')})?(?<![\d.])(?P<m>{NUM})\s*月\s*"
    rf"(?:(?P<d>{NUM})\s*[日号](?![{NOT_AFTER_NUMBER}院门厅馆])"
    rf"|(?P<dd>\d{{1,2}})(?![\d日号:点时{NOT_AFTER_NUMBER}]))",
    re.ASCII,
)
_DATE_SLASH = re.compile(
    rf"(?<![\d./:-])(?P<m>\d{{1,2}})[-/](?P<d>\d{{1,2}})"
    rf"(?![\d./:-]|\s*[点时月日号{NOT_AFTER_NUMBER}])",
    re.ASCII,
)
MASK = "\x01"  # stands for the time's characters while dates are searched
_DATE_REL = re.compile(
    f"大后天|后天|明天|明日|今天|今日|昨天|昨日|(?<!提)前天|(?:明|今)(?=早|晚|上午|下午|中午|{MASK})"
)
_DATE_WEEK = re.compile(
    "(?<!每)(?P<pre>下下个?|下个?|本|这个?|上个?)?(?:周|星期|礼拜)(?P<w>[一二三四五六日天1-7])"
)
_DATE_DAY = re.compile(
    rf"(?<![\d.月第/-])(?P<d>{NUM})\s*[日号](?![{NOT_AFTER_NUMBER}院门厅馆线])", re.ASCII
)
_DATE_PATTERNS = (
    (_DATE_ISO, "abs", 0),
    (_DATE_COMPACT, "abs", 0),
    (_DATE_MD, "abs", 0),
    (_DATE_SLASH, "abs", 0),
    (_DATE_REL, "rel", 1),
    (_DATE_WEEK, "week", 2),
)
_GLUE = re.compile(rf"[\s()\[\]【】,，、{MASK}]*")  # what may sit between a date and its weekday


@dataclass(frozen=True)
class _DateTok:
    span: tuple[int, int]
    typed: str
    kind: str  # abs, rel, week, day
    tier: int  # lower decides when several date words sit together
    groups: dict[str, str | None]


def find_dates(text: str) -> list[_DateTok]:
    """Return the first date in the folded text with the date words right next to it."""
    found = [
        _DateTok(m.span(), m.group().strip(), kind, tier, m.groupdict())
        for pattern, kind, tier in _DATE_PATTERNS
        for m in pattern.finditer(text)
    ]
    found.sort(key=lambda t: (t.span[0], -t.span[1], t.tier))
    kept: list[_DateTok] = []
    for tok in found:
        if not kept or tok.span[0] >= kept[-1].span[1]:
            kept.append(tok)
    if not kept:
        m = _DATE_DAY.search(text)
        return [_DateTok(m.span(), m.group().strip(), "day", 3, m.groupdict())] if m else []
    group = [kept[0]]
    for tok in kept[1:]:
        if not _GLUE.fullmatch(text, group[-1].span[1], tok.span[0]):
            break
        group.append(tok)
    return group


def _check_year(year: int, typed: str) -> None:
    """Refuse a year outside 1900–2100."""
    if not 1900 <= year <= 2100:
        raise BadToken(f"“{typed}”的年份{year}不对", DATE_HINT)


def _abs_date(
    year: int | None, month: int, day: int, typed: str, today: date, past: bool = False
) -> date:
    """Return the date for a month and day: if no year was written, the next occurrence (the
    last one, today included, when ``past``)."""
    if not 1 <= month <= 12:
        raise BadToken(f"“{typed}”不是有效日期：没有{month}月", DATE_HINT)
    if year is not None:
        _check_year(year, typed)
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise BadToken(f"“{typed}”不是有效日期：{year}年{month}月只有{last}天", DATE_HINT)
        return date(year, month, day)
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:
        raise BadToken(f"“{typed}”不是有效日期：{month}月没有{day}日", DATE_HINT)

    def wrong_side(year: int) -> bool:
        found = date(year, month, day)
        return found > today if past else found < today

    year = today.year
    while day > calendar.monthrange(year, month)[1] or wrong_side(year):
        year += -1 if past else 1
    return date(year, month, day)


def _resolve(
    tok: _DateTok, today: date, ahead: Callable[[date], bool], past: bool = False
) -> tuple[date, str]:
    """Return the date a token means and a note for ``understood`` (may be empty). A date
    without a year, a bare weekday or a bare day is the next one, or, when ``past``, the last
    one (today included)."""
    g = tok.groups
    if tok.kind == "abs":
        year = year_value(g, "", today)
        m, d = g["m"], g.get("d") or g.get("dd")
        assert m is not None and d is not None
        day = _abs_date(year, number(m), number(d), tok.typed, today, past)
        note = (
            f"（未写年份，按{day.year}年理解）" if year is None and day.year != today.year else ""
        )
        return day, note
    if tok.kind == "rel":
        return today + timedelta(days=_REL_DAYS[tok.typed]), ""
    if tok.kind == "week":
        weekday = _WEEKDAY_NUM[g["w"] or ""]
        pre = (g.get("pre") or "").replace("个", "")
        if pre:
            offset = {"本": 0, "这": 0, "下": 7, "下下": 14, "上": -7}[pre]
            return today + timedelta(days=offset + weekday - today.weekday()), ""
        if past:
            return today - timedelta(days=(today.weekday() - weekday) % 7), ""
        day = today + timedelta(days=(weekday - today.weekday()) % 7)
        if day == today and not ahead(day):
            return day + timedelta(days=7), f"（今天的这个时间已过，按下{tok.typed}理解）"
        return day, ""
    d = number(g["d"] or "")
    if not 1 <= d <= 31:
        raise BadToken(f"“{tok.typed}”不是有效日期：没有{d}日", DATE_HINT)
    year, month = today.year, today.month
    if past:
        while d > calendar.monthrange(year, month)[1] or date(year, month, d) > today:
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return date(year, month, d), ""
    while d > calendar.monthrange(year, month)[1] or date(year, month, d) < today:
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return date(year, month, d), ""


def date_of(
    group: list[_DateTok], today: date, ahead: Callable[[date], bool], past: bool = False
) -> tuple[date, str]:
    """Resolve a group of adjacent date words, checking that they agree."""
    decider = min(group, key=lambda t: t.tier)
    day, note = _resolve(decider, today, ahead, past)
    for other in group:
        if other is decider:
            continue
        if other.kind == "week" and not other.groups.get("pre"):
            agrees = _WEEKDAY_NUM[other.groups["w"] or ""] == day.weekday()
        else:
            agrees = _resolve(other, today, ahead, past)[0] == day
        if not agrees:
            raise BadToken(
                f"日期前后不一致：“{decider.typed}”是{fmt_date(day)}，和“{other.typed}”对不上",
                f"请核对后只写一个日期，例如：{EXAMPLE}",
            )
    return day, note
