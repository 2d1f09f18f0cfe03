"""Times of day and time ranges: 15:00, 下午3点半, 15:00-17:00, 下午3-5点."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.datetext.base import NOT_AFTER_NUMBER, NUM, SEP, BadToken, hm, number

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
_PERIOD = "(?:" + "|".join(sorted(_PERIOD_KIND, key=len, reverse=True)) + ")"
_MINUTE = (
    rf"(?:半|一刻|三刻|整|\d{{1,2}}分|\d{{2}}(?![\d{NOT_AFTER_NUMBER}])"
    "|(?:[一二三四五]?十[一二三四五六七八九]?|零[一二三四五六七八九])分?|[一二三四五六七八九]分)"
)


def _point(x: str) -> str:
    """Return the pattern of one time of day, its group names prefixed with x."""
    return (
        rf"(?:(?P<{x}p>{_PERIOD})\s*)?"
        rf"(?:(?<![\d.:])(?P<{x}h>\d{{1,2}}):(?P<{x}m>\d{{2}})(?::\d{{2}})?(?![\d:])"
        rf"|(?<![\d.:])(?P<{x}H>{NUM})\s*[点时]钟?(?P<{x}M>{_MINUTE})?)"
    )


_TIME_POINT = re.compile(_point("a"), re.ASCII)
_TIME_RANGE = re.compile(
    _point("a")
    + SEP
    + rf"(?:{_point('b')}|(?<![\d.:])(?P<bb>\d{{1,2}})(?![\d:点时{NOT_AFTER_NUMBER}]))",
    re.ASCII,
)
_TIME_SHARED_UNIT = re.compile(  # 下午3-5点: the start borrows 点 from the end
    rf"(?:(?P<ap>{_PERIOD})\s*)?(?<![\d.:])(?P<aH>{NUM}){SEP}"
    rf"(?:(?P<bp>{_PERIOD})\s*)?(?P<bH>{NUM})\s*[点时]钟?(?P<bM>{_MINUTE})?",
    re.ASCII,
)
DOTTED_TIME = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{2})(?![\d.])", re.ASCII)  # 15.30, refused


@dataclass(frozen=True)
class TimeSpec:
    """A parsed time or time range, as typed, in minutes after midnight."""

    start: int  # minutes after midnight
    end: int | None  # minutes after midnight, up to 1440
    guessed_pm: bool
    typed: str


def fmt_spec(spec: TimeSpec) -> str:
    """Render a parsed time or time range."""
    return hm(spec.start) + ("" if spec.end is None else f"—{hm(spec.end)}")


def find_time(text: str) -> re.Match[str] | None:
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
    return number(s.removesuffix("分"))


def _clock(g: dict[str, str | None], x: str) -> tuple[int, int, str] | None:
    """Return (hour, minute, hour as typed) of the time whose groups are prefixed with x."""
    h, hh = g.get(x + "h"), g.get(x + "H")
    if h is not None:
        return int(h), int(g[x + "m"] or 0), h
    if hh is not None:
        return number(hh), _minute(g.get(x + "M")), hh
    bare = g.get("bb") if x == "b" else None
    if bare is not None:
        return int(bare), 0, bare
    return None


def _check_clock(hour: int, minute: int, typed: str, *, end: bool) -> None:
    """Refuse minutes over 59 and hours over 23 (24:00 only as an end)."""
    if minute > 59:
        raise BadToken(f"“{typed}”不是有效时间：分钟应在0—59之间", _TIME_HINT)
    if hour > 24 or (hour == 24 and not (end and minute == 0)):
        raise BadToken(f"“{typed}”不是有效时间：小时应在0—23之间", _TIME_HINT)


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
    raise BadToken(
        f"“{typed}”前后矛盾：“{period}”的钟点应在{_PERIOD_SPAN[kind]}",
        f"请改正钟点，或去掉“{period}”直接写24小时制，例如：上午9:30、15:00",
    )


def time_spec(m: re.Match[str]) -> TimeSpec:
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
        return TimeSpec(start, None, guessed, typed)
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
        except BadToken:  # 上午10点到13点: the end is on the 24-hour clock
            end_hour, end_guessed = _to_24h(hour, raw, None, typed)
        if end_hour == hour and 1 <= hour <= 6 and not raw.startswith("0"):
            if end_hour * 60 + minute <= start < (end_hour + 12) * 60 + minute:
                end_hour += 12  # 上午11点到1点
        guessed = guessed or end_guessed
        end = end_hour * 60 + minute
    if end <= start:
        raise BadToken(
            f"“{typed}”的结束时间{hm(end)}不晚于开始时间{hm(start)}",
            "请把结束时间写在开始时间之后，例如：15:00-17:00、下午3点到5点",
        )
    return TimeSpec(start, end, guessed, typed)


def at_minutes(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """Return the aware datetime minutes after midnight of day in tz (1440 is next midnight)."""
    if minutes == 1440:
        day, minutes = day + timedelta(days=1), 0
    return datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=tz)
