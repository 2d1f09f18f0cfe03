"""Forgiving parsing of meeting dates and times typed in Chinese on a phone.

The meeting command passes the text after its kind word, e.g.
``12月3日 15:00 三楼会议室 学习党章``. Input is folded with NFKC first, so full-width digits
and punctuation count as ASCII; Chinese numerals (``十二月三日``, ``下午三点半``) are read too.
Rules for ambiguous input, each visible to the secretary in ``When.understood``:

- An hour 1–6 with no period word (上午/下午/晚上…) and no leading zero is afternoon: ``3点`` and
  ``3:00`` are 15:00 (``understood`` says so), ``03:00`` is 3:00. Hours 0 and 7–23 are taken as
  written: ``9点`` is 9:00, ``12点`` is noon. A period word contradicting the hour is an error
  (``上午15点``); ``下午15点`` is accepted.
- A range's end without a period word of its own takes the start's (``下午3点到5点`` is
  15:00—17:00); an end hour 1–6 that would then not be after the start is read as afternoon
  (``上午11点到1点`` is 11:00—13:00). ``24:00`` is accepted as an end only. The end must be after
  the start.
- A month and day without a year is its next occurrence: this year if not before today (in tz),
  else the next year in which the date exists (``understood`` names the year then). A date
  written with a year is kept even if past; the caller judges past meetings.
- ``周五``/``星期五``/``礼拜五`` alone is the next such day: today only if today is that weekday
  and the meeting time is still after ``now`` (``parse_date``, having no time, takes today).
  ``本周五``/``这周五`` is the Friday of the current Monday-to-Sunday week even if past,
  ``下周三`` that of next week, ``下下周三`` the week after, ``上周三`` last week's.
- A date word right next to the date (``12月3日（周四）``, ``明天 12月3日``) must agree with it
  and is consumed; the most specific one decides. Otherwise the first date and the first time in
  the text are used and later ones stay in ``rest``.
- A bare day (``5号``, ``十五日``) is used only when no other date is present; it is the next
  such day of a month. ``3号楼`` and the like are not days.
- Months without a year (``1月``, ``1-3月``) are in now's year.

Times are shown as ``9:30``/``15:00`` and dates as ``2026年12月3日（星期四）``.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

EXAMPLE = "12月3日 15:00 三楼会议室 学习党章"
MAX_MONTHS = 120

_WEEK = "一二三四五六日"
_WEEKDAY_NUM = {c: i for i, c in enumerate(_WEEK)} | {"天": 6} | {str(i + 1): i for i in range(7)}
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGIT |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_REL_DAYS = {"今天": 0, "今日": 0, "今": 0, "明天": 1, "明日": 1, "明": 1, "后天": 2, "大后天": 3}
_YEAR_WORDS = {"今": 0, "明": 1, "去": -1}
_MONTH_WORDS = {"本月": 0, "这月": 0, "这个月": 0, "当月": 0, "上月": -1, "上个月": -1}
_MONTH_WORDS |= {"下月": 1, "下个月": 1}

# Period words and the hours they allow; see _to_24h.
_PERIOD_KIND = {"凌晨": "dawn", "早上": "am", "早晨": "am", "清早": "am", "上午": "am", "早": "am"}
_PERIOD_KIND |= {"中午": "noon", "下午": "pm", "傍晚": "pm"}
_PERIOD_KIND |= {"晚上": "evening", "晚间": "evening", "夜里": "evening", "夜间": "evening"}
_PERIOD_KIND |= {"晚": "evening"}
_PERIOD_SPAN = {
    "dawn": "0—6点",
    "am": "0—12点",
    "noon": "11点—下午3点",
    "pm": "下午1点—11点（13—23点）",
    "evening": "晚上5点—11点（17—23点）",
}

_TIME_HINT = "请改正时间，例如：15:00、下午3点半、15:00-17:00"
_DATE_HINT = "请改正日期，例如：12月3日、2026-12-03、明天、周五、下周三"
_MONTH_HINT = "请这样写，例如：2026年1月、1月、本月、上月、2026-01"
_RANGE_HINT = "请这样写，例如：2026年1-3月、2025年11月-2026年2月、1-3月、本月"

# Pieces of patterns (matched against NFKC-folded text).
_CN_NUM = "(?:[一二三四五六七八九]?十[一二三四五六七八九]?|[零〇一二两三四五六七八九])"
_NUM = rf"(?:\d{{1,2}}|{_CN_NUM})"
_SEP = r"\s*(?:-+|—+|–+|―+|~+|〜|至|到)\s*"
_PERIOD = "(?:" + "|".join(sorted(_PERIOD_KIND, key=len, reverse=True)) + ")"
_NOT_AFTER_NUMBER = "楼层号室栋座幢"  # a number followed by these is a place, not a date or time
_MINUTE = (
    rf"(?:半|一刻|三刻|整|\d{{1,2}}分|\d{{2}}(?![\d{_NOT_AFTER_NUMBER}])"
    "|(?:[一二三四五]?十[一二三四五六七八九]?|零[一二三四五六七八九])分?|[一二三四五六七八九]分)"
)


def _point(x: str) -> str:
    """Return the pattern of one time of day, its group names prefixed with x."""
    return (
        rf"(?:(?P<{x}p>{_PERIOD})\s*)?"
        rf"(?:(?<![\d.:])(?P<{x}h>\d{{1,2}}):(?P<{x}m>\d{{2}})(?::\d{{2}})?(?![\d:])"
        rf"|(?<![\d.:])(?P<{x}H>{_NUM})\s*[点时]钟?(?P<{x}M>{_MINUTE})?)"
    )


def _year(x: str) -> str:
    """Return the pattern of a year followed by 年, its group names prefixed with x."""
    return (
        rf"(?:(?<!\d)(?P<{x}y>\d{{4}}|\d{{2}})|(?P<{x}yc>[〇零一二三四五六七八九]{{4}})"
        rf"|(?P<{x}yw>今|明|去))\s*年\s*"
    )


_TIME_POINT = re.compile(_point("a"), re.ASCII)
_TIME_RANGE = re.compile(
    _point("a")
    + _SEP
    + rf"(?:{_point('b')}|(?<![\d.:])(?P<bb>\d{{1,2}})(?![\d:点时{_NOT_AFTER_NUMBER}]))",
    re.ASCII,
)
_TIME_SHARED_UNIT = re.compile(  # 下午3-5点: the start borrows 点 from the end
    rf"(?:(?P<ap>{_PERIOD})\s*)?(?<![\d.:])(?P<aH>{_NUM}){_SEP}"
    rf"(?:(?P<bp>{_PERIOD})\s*)?(?P<bH>{_NUM})\s*[点时]钟?(?P<bM>{_MINUTE})?",
    re.ASCII,
)

_DATE_ISO = re.compile(
    r"(?<![\d.])(?P<y>\d{4})(?P<s>[-/.])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?![\d:])", re.ASCII
)
_DATE_COMPACT = re.compile(
    r"(?<![\d.])(?P<y>(?:19|20)\d{2})(?P<m>\d{2})(?P<d>\d{2})(?!\d)", re.ASCII
)
_DATE_MD = re.compile(
    rf"(?:{_year('')})?(?<![\d.])(?P<m>{_NUM})\s*月\s*"
    rf"(?:(?P<d>{_NUM})\s*[日号](?![{_NOT_AFTER_NUMBER}院门厅馆])"
    rf"|(?P<dd>\d{{1,2}})(?![\d日号:点时{_NOT_AFTER_NUMBER}]))",
    re.ASCII,
)
_DATE_SLASH = re.compile(
    rf"(?<![\d./:-])(?P<m>\d{{1,2}})[-/](?P<d>\d{{1,2}})"
    rf"(?![\d./:-]|\s*[点时月日号{_NOT_AFTER_NUMBER}])",
    re.ASCII,
)
_MASK = "\x01"  # stands for the time's characters while dates are searched
_DATE_REL = re.compile(
    f"大后天|后天|明天|明日|今天|今日|(?:明|今)(?=早|晚|上午|下午|中午|{_MASK})"
)
_DATE_WEEK = re.compile(
    "(?<!每)(?P<pre>下下个?|下个?|本|这个?|上个?)?(?:周|星期|礼拜)(?P<w>[一二三四五六日天1-7])"
)
_DATE_DAY = re.compile(
    rf"(?<![\d.月第/-])(?P<d>{_NUM})\s*[日号](?![{_NOT_AFTER_NUMBER}院门厅馆线])", re.ASCII
)
_DATE_PATTERNS = (
    (_DATE_ISO, "abs", 0),
    (_DATE_COMPACT, "abs", 0),
    (_DATE_MD, "abs", 0),
    (_DATE_SLASH, "abs", 0),
    (_DATE_REL, "rel", 1),
    (_DATE_WEEK, "week", 2),
)
_GLUE = re.compile(rf"[\s()\[\]【】,，、{_MASK}]*")  # what may sit between a date and its weekday

_MONTH = re.compile(rf"(?:{_year('')})?(?P<m>{_NUM})\s*月份?", re.ASCII)
_MONTH_ISO = re.compile(
    r"(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})|(?P<cy>\d{4})(?P<cm>\d{2})", re.ASCII
)
_MONTH_RANGE = re.compile(
    rf"(?:{_year('a')})?(?P<am>{_NUM})\s*(?:月份?)?{_SEP}(?:{_year('b')})?(?P<bm>{_NUM})\s*月份?",
    re.ASCII,
)
_MONTH_RANGE_ISO = re.compile(
    rf"(?P<ay>\d{{4}})[-/.](?P<am>\d{{1,2}}){_SEP}(?P<by>\d{{4}})[-/.](?P<bm>\d{{1,2}})", re.ASCII
)

_DOTTED_TIME = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{2})(?![\d.])", re.ASCII)  # 15.30, refused
_EMPTY_PAIRS = re.compile(r"\(\s*\)|（\s*）|\[\s*\]|［\s*］|【\s*】|「\s*」|〔\s*〕")
_EDGE_PUNCT = ",，、;；:：.。~～〜-－—–―/／|"


@dataclass(frozen=True)
class When:
    """A meeting's start, optional end, leftover words (place and title) and a rendering."""

    start: datetime
    end: datetime | None
    rest: str
    understood: str


class DateTextError(ValueError):
    """Refuse date or time text; ``message`` says in Chinese what was understood and what not."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Bad(Exception):
    """Signal a recognised but invalid token, with the problem and a hint for the user."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


@dataclass(frozen=True)
class _TimeSpec:
    start: int  # minutes after midnight
    end: int | None  # minutes after midnight, up to 1440
    guessed_pm: bool
    typed: str


@dataclass(frozen=True)
class _DateTok:
    span: tuple[int, int]
    typed: str
    kind: str  # abs, rel, week, day
    tier: int  # lower decides when several date words sit together
    groups: dict[str, str | None]


class _Folded:
    """Text folded with NFKC that remembers each folded character's original position."""

    def __init__(self, text: str) -> None:
        chars: list[str] = []
        origin: list[int] = []
        for i, ch in enumerate(text):
            for c in unicodedata.normalize("NFKC", ch):
                chars.append(c)
                origin.append(i)
        self.original = text
        self.text = "".join(chars)
        self.origin = origin

    def rest(self, spans: list[tuple[int, int]]) -> str:
        """Return the original words outside the folded spans, single-spaced."""
        removed = [False] * len(self.original)
        for start, end in spans:
            if end > start:
                for i in range(self.origin[start], self.origin[end - 1] + 1):
                    removed[i] = True
        s = "".join(" " if gone else c for gone, c in zip(removed, self.original, strict=True))
        s = _EMPTY_PAIRS.sub(" ", s)
        words = (w.strip(_EDGE_PUNCT) for w in s.split())
        return " ".join(w for w in words if w)


def _error(problem: str, understood: list[str], hint: str) -> DateTextError:
    """Build the user-facing error: the problem, what was understood, a hint with an example."""
    said = f"已识别：{'，'.join(understood)}。" if understood else ""
    return DateTextError(f"{problem}。{said}{hint}")


def _local(now: datetime, tz: ZoneInfo) -> datetime:
    """Return now in tz, refusing a naive datetime."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz)


def _num(s: str) -> int:
    """Return the value of ASCII digits or a Chinese numeral (十二, 三十一, 二〇二六)."""
    if s.isascii() and s.isdigit():
        return int(s)
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)
    return int("".join(str(_CN_DIGIT[c]) for c in s))


def _fmt_date(d: date) -> str:
    """Render a date as 2026年12月3日（星期四）."""
    return f"{d.year}年{d.month}月{d.day}日（星期{_WEEK[d.weekday()]}）"


def _hm(minutes: int) -> str:
    """Render minutes after midnight as 9:30 or 15:00."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def _fmt_spec(spec: _TimeSpec) -> str:
    """Render a parsed time or time range."""
    return _hm(spec.start) + ("" if spec.end is None else f"—{_hm(spec.end)}")


def format_when(start: datetime, end: datetime | None) -> str:
    """Render a meeting time as 2026年12月3日（星期四）15:00—16:30."""
    text = _fmt_date(start.date()) + _hm(start.hour * 60 + start.minute)
    if end is None:
        return text
    if end.tzinfo is not None and start.tzinfo is not None:
        end = end.astimezone(start.tzinfo)
    end_hm = end.hour * 60 + end.minute
    if end.date() == start.date():
        return f"{text}—{_hm(end_hm)}"
    if end.date() == start.date() + timedelta(days=1) and end_hm == 0:
        return f"{text}—24:00"
    return f"{text}—{_fmt_date(end.date())}{_hm(end_hm)}"


# Times


def _find_time(text: str) -> re.Match[str] | None:
    """Return the first time or time range in the folded text, the longest at a tie."""
    best: re.Match[str] | None = None
    for pattern in (_TIME_RANGE, _TIME_SHARED_UNIT, _TIME_POINT):
        m = pattern.search(text)
        if m and (best is None or (m.start(), -m.end()) < (best.start(), -best.end())):
            best = m
    return best


def _minute(s: str | None) -> int:
    """Return the minutes written after 点."""
    special = {None: 0, "整": 0, "半": 30, "一刻": 15, "三刻": 45}
    if s in special:
        return special[s]
    assert s is not None
    return _num(s.removesuffix("分"))


def _clock(g: dict[str, str | None], x: str) -> tuple[int, int, str] | None:
    """Return (hour, minute, hour as typed) of the time whose groups are prefixed with x."""
    h, hh = g.get(x + "h"), g.get(x + "H")
    if h is not None:
        return int(h), int(g[x + "m"] or 0), h
    if hh is not None:
        return _num(hh), _minute(g.get(x + "M")), hh
    bare = g.get("bb") if x == "b" else None
    if bare is not None:
        return int(bare), 0, bare
    return None


def _check_clock(hour: int, minute: int, typed: str, *, end: bool) -> None:
    """Refuse minutes over 59 and hours over 23 (24:00 only as an end)."""
    if minute > 59:
        raise _Bad(f"“{typed}”不是有效时间：分钟应在0—59之间", _TIME_HINT)
    if hour > 24 or (hour == 24 and not (end and minute == 0)):
        raise _Bad(f"“{typed}”不是有效时间：小时应在0—23之间", _TIME_HINT)


def _to_24h(hour: int, raw: str, period: str | None, typed: str) -> tuple[int, bool]:
    """Return the 24-hour hour for a period word, and whether afternoon was guessed."""
    if period is None:
        if 1 <= hour <= 6 and not raw.startswith("0"):
            return hour + 12, True
        return hour, False
    kind = _PERIOD_KIND[period]
    if kind == "dawn" and (hour <= 6 or hour == 12):
        return hour % 12, False
    if kind == "am" and hour <= 12:
        return hour, False
    if kind == "noon" and (hour in (11, 12) or 13 <= hour <= 15):
        return hour, False
    if kind == "noon" and 1 <= hour <= 3:
        return hour + 12, False
    if kind == "pm" and 1 <= hour <= 11:
        return hour + 12, False
    if kind == "pm" and 12 <= hour <= 23:
        return hour, False
    if kind == "evening" and 5 <= hour <= 11:
        return hour + 12, False
    if kind == "evening" and 17 <= hour <= 23:
        return hour, False
    raise _Bad(
        f"“{typed}”前后矛盾：“{period}”的钟点应在{_PERIOD_SPAN[kind]}",
        f"请改正钟点，或去掉“{period}”直接写24小时制，例如：上午9:30、15:00",
    )


def _time_spec(m: re.Match[str]) -> _TimeSpec:
    """Interpret a matched time or time range as minutes after midnight."""
    typed = m.group().strip()
    g = m.groupdict()
    a = _clock(g, "a")
    assert a is not None
    hour, minute, raw = a
    _check_clock(hour, minute, typed, end=False)
    start_hour, guessed = _to_24h(hour, raw, g.get("ap"), typed)
    start = start_hour * 60 + minute
    b = _clock(g, "b")
    if b is None:
        return _TimeSpec(start, None, guessed, typed)
    hour, minute, raw = b
    _check_clock(hour, minute, typed, end=True)
    if hour == 24:
        end = 1440
    elif g.get("bp"):
        end_hour, _ = _to_24h(hour, raw, g.get("bp"), typed)
        end = end_hour * 60 + minute
    else:
        try:  # the start's period carries over
            end_hour, end_guessed = _to_24h(hour, raw, g.get("ap"), typed)
        except _Bad:  # 上午10点到13点: the end is on the 24-hour clock
            end_hour, end_guessed = _to_24h(hour, raw, None, typed)
        if end_hour == hour and 1 <= hour <= 6 and not raw.startswith("0"):
            if end_hour * 60 + minute <= start < (end_hour + 12) * 60 + minute:
                end_hour += 12  # 上午11点到1点
        guessed = guessed or end_guessed
        end = end_hour * 60 + minute
    if end <= start:
        raise _Bad(
            f"“{typed}”的结束时间{_hm(end)}不晚于开始时间{_hm(start)}",
            "请把结束时间写在开始时间之后，例如：15:00-17:00、下午3点到5点",
        )
    return _TimeSpec(start, end, guessed, typed)


def _at(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """Return the aware datetime minutes after midnight of day in tz (1440 is next midnight)."""
    if minutes == 1440:
        day, minutes = day + timedelta(days=1), 0
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)


# Dates


def _find_dates(text: str) -> list[_DateTok]:
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


def _year_value(g: dict[str, str | None], x: str, today: date) -> int | None:
    """Return the year written in the groups prefixed with x, or None."""
    if y := g.get(x + "y"):
        return int(y) + (2000 if len(y) == 2 else 0)
    if yc := g.get(x + "yc"):
        return _num(yc)
    if yw := g.get(x + "yw"):
        return today.year + _YEAR_WORDS[yw]
    return None


def _check_year(year: int, typed: str) -> None:
    """Refuse a year outside 1900–2100."""
    if not 1900 <= year <= 2100:
        raise _Bad(f"“{typed}”的年份{year}不对", _DATE_HINT)


def _abs_date(year: int | None, month: int, day: int, typed: str, today: date) -> date:
    """Return the date for a month and day, the next occurrence if no year was written."""
    if not 1 <= month <= 12:
        raise _Bad(f"“{typed}”不是有效日期：没有{month}月", _DATE_HINT)
    if year is not None:
        _check_year(year, typed)
        last = calendar.monthrange(year, month)[1]
        if not 1 <= day <= last:
            raise _Bad(f"“{typed}”不是有效日期：{year}年{month}月只有{last}天", _DATE_HINT)
        return date(year, month, day)
    if not 1 <= day <= calendar.monthrange(2000, month)[1]:
        raise _Bad(f"“{typed}”不是有效日期：{month}月没有{day}日", _DATE_HINT)
    year = today.year
    while day > calendar.monthrange(year, month)[1] or date(year, month, day) < today:
        year += 1
    return date(year, month, day)


def _resolve(tok: _DateTok, today: date, ahead: Callable[[date], bool]) -> tuple[date, str]:
    """Return the date a token means and a note for ``understood`` (may be empty)."""
    g = tok.groups
    if tok.kind == "abs":
        year = _year_value(g, "", today)
        m, d = g["m"], g.get("d") or g.get("dd")
        assert m is not None and d is not None
        day = _abs_date(year, _num(m), _num(d), tok.typed, today)
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
        day = today + timedelta(days=(weekday - today.weekday()) % 7)
        if day == today and not ahead(day):
            return day + timedelta(days=7), f"（今天的这个时间已过，按下{tok.typed}理解）"
        return day, ""
    d = _num(g["d"] or "")
    if not 1 <= d <= 31:
        raise _Bad(f"“{tok.typed}”不是有效日期：没有{d}日", _DATE_HINT)
    year, month = today.year, today.month
    while d > calendar.monthrange(year, month)[1] or date(year, month, d) < today:
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return date(year, month, d), ""


def _date_of(
    group: list[_DateTok], today: date, ahead: Callable[[date], bool]
) -> tuple[date, str]:
    """Resolve a group of adjacent date words, checking that they agree."""
    decider = min(group, key=lambda t: t.tier)
    day, note = _resolve(decider, today, ahead)
    for other in group:
        if other is decider:
            continue
        if other.kind == "week" and not other.groups.get("pre"):
            agrees = _WEEKDAY_NUM[other.groups["w"] or ""] == day.weekday()
        else:
            agrees = _resolve(other, today, ahead)[0] == day
        if not agrees:
            raise _Bad(
                f"日期前后不一致：“{decider.typed}”是{_fmt_date(day)}，和“{other.typed}”对不上",
                f"请核对后只写一个日期，例如：{EXAMPLE}",
            )
    return day, note


# Public parsers


def parse_when(
    text: str, *, now: datetime, tz: ZoneInfo, default_minutes: int | None = None
) -> When:
    """Parse a meeting's date and time (or time range); keep the other words as ``rest``."""
    if default_minutes is not None and default_minutes <= 0:
        raise ValueError("default_minutes must be positive")
    today = _local(now, tz).date()
    folded = _Folded(text)
    found_time = _find_time(folded.text)
    spec: _TimeSpec | None = None
    time_bad: _Bad | None = None
    masked = folded.text
    if found_time is not None:
        start, end = found_time.span()
        masked = masked[:start] + _MASK * (end - start) + masked[end:]
        try:
            spec = _time_spec(found_time)
        except _Bad as bad:
            time_bad = bad

    def ahead(day: date) -> bool:
        return spec is None or _at(day, spec.start, tz) > now

    group = _find_dates(masked)
    understood_time = [f"时间 {_fmt_spec(spec)}"] if spec else []
    day: date | None = None
    date_note = ""
    if group:
        try:
            day, date_note = _date_of(group, today, ahead)
        except _Bad as bad:
            raise _error(bad.problem, understood_time, bad.hint) from None
    understood_date = [f"日期 {_fmt_date(day)}"] if day else []
    if time_bad is not None:
        raise _error(time_bad.problem, understood_date, time_bad.hint)
    if day is None and spec is None:
        problem = f"没看懂“{text.strip()}”里的日期和时间" if text.strip() else "没有写日期和时间"
        raise _error(problem, [], f"请按“日期 时间 地点 内容”来写，例如：{EXAMPLE}")
    if spec is None:
        dotted = _DOTTED_TIME.search(masked)
        raise _error(
            "没有找到开会时间"
            + (f"（“{dotted[0]}”请写成“{dotted[1]}:{dotted[2]}”）" if dotted else ""),
            understood_date,
            f"请加上时间，例如：{group[0].typed} 15:00 三楼会议室",
        )
    if day is None:
        raise _error(
            "没有找到开会日期",
            understood_time,
            f"请加上日期，例如：12月3日 {spec.typed} 三楼会议室",
        )
    start_at = _at(day, spec.start, tz)
    end_at = None if spec.end is None else _at(day, spec.end, tz)
    notes = [date_note]
    if spec.guessed_pm:
        notes.append(f"（“{spec.typed}”未写上午/下午，按下午理解）")
    if end_at is None and default_minutes:
        end_at = start_at + timedelta(minutes=default_minutes)
        notes.append(f"（未写结束时间，按{default_minutes}分钟计）")
    rest = folded.rest([*([found_time.span()] if found_time else []), *(t.span for t in group)])
    return When(start_at, end_at, rest, format_when(start_at, end_at) + "".join(notes))


def parse_date(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    """Parse a date written alone; a weekday that is today means today."""
    today = _local(now, tz).date()
    folded = _Folded(text)
    group = _find_dates(folded.text)
    if not group:
        raise _error(f"没看懂日期“{text.strip()}”", [], _DATE_HINT)
    try:
        day, _ = _date_of(group, today, lambda _day: True)
    except _Bad as bad:
        raise _error(bad.problem, [], bad.hint) from None
    rest = folded.rest([t.span for t in group])
    if rest:
        raise _error(
            f"“{text.strip()}”里除了日期还有“{rest}”，看不懂",
            [f"日期 {_fmt_date(day)}"],
            "请只写日期，例如：12月3日、明天、下周三",
        )
    return day


def _clean(text: str) -> str:
    """Fold text with NFKC and strip spaces and separators at both ends."""
    return unicodedata.normalize("NFKC", text).strip().strip(_EDGE_PUNCT + " ")


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
        year, month = _year_value(m.groupdict(), "", today), _num(m["m"])
    elif m := _MONTH_ISO.fullmatch(s):
        year, month = int(m["y"] or m["cy"]), int(m["m"] or m["cm"])
    else:
        raise _error(f"没看懂月份“{s}”", [], hint)
    if not 1 <= month <= 12:
        raise _error(f"“{s}”不是有效月份：没有{month}月", [], hint)
    year = today.year if year is None else year
    if not 1900 <= year <= 2100:
        raise _error(f"“{s}”的年份{year}不对", [], hint)
    return year, month


def parse_month(text: str, *, now: datetime, tz: ZoneInfo) -> tuple[int, int]:
    """Parse a month as (year, month): 2026年1月, 1月 (now's year), 本月, 上月, 2026-01."""
    return _month(_clean(text), _local(now, tz).date(), _MONTH_HINT)


def parse_month_range(text: str, *, now: datetime, tz: ZoneInfo) -> list[tuple[int, int]]:
    """Parse a month or an inclusive range of months into (year, month) pairs, in order."""
    today = _local(now, tz).date()
    s = _clean(text)
    m = _MONTH_RANGE.fullmatch(s) or _MONTH_RANGE_ISO.fullmatch(s)
    if m is None:
        return [_month(s, today, _RANGE_HINT)]
    g = m.groupdict()
    first_year, last_year = _year_value(g, "a", today), _year_value(g, "b", today)
    first_month, last_month = _num(g["am"] or ""), _num(g["bm"] or "")
    for month in (first_month, last_month):
        if not 1 <= month <= 12:
            raise _error(f"“{s}”里的月份不对：没有{month}月", [], _RANGE_HINT)
    if first_year is None:
        first_year = today.year if last_year is None else last_year
    if last_year is None:
        last_year = first_year
    for year in (first_year, last_year):
        if not 1900 <= year <= 2100:
            raise _error(f"“{s}”的年份{year}不对", [], _RANGE_HINT)
    first, last = (first_year, first_month), (last_year, last_month)
    understood = [f"从{first_year}年{first_month}月到{last_year}年{last_month}月"]
    if last < first:
        raise _error(f"“{s}”的起始月份晚于结束月份", understood, _RANGE_HINT)
    count = (last_year - first_year) * 12 + last_month - first_month + 1
    if count > MAX_MONTHS:
        raise _error(f"“{s}”的范围太大：最多{MAX_MONTHS}个月", understood, _RANGE_HINT)
    return [_shift(first_year, first_month, i) for i in range(count)]
