"""A meeting's date and time, or a date alone, from the words typed."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.datetext.base import (
    EXAMPLE,
    BadToken,
    Folded,
    When,
    fmt_date,
    format_when,
    local_now,
    refusal,
)
from core.datetext.dates import DATE_HINT, MASK, date_of, find_dates
from core.datetext.times import DOTTED_TIME, TimeSpec, at_minutes, find_time, fmt_spec, time_spec


def parse_when(
    text: str, *, now: datetime, tz: ZoneInfo, default_minutes: int | None = None
) -> When:
    """Parse a meeting's date and time (or time range); keep the other words as ``rest``."""
    if default_minutes is not None and default_minutes <= 0:
        raise ValueError("default_minutes must be positive")
    today = local_now(now, tz).date()
    folded = Folded(text)
    found_time = find_time(folded.text)
    spec: TimeSpec | None = None
    time_bad: BadToken | None = None
    masked = folded.text
    if found_time is not None:
        start, end = found_time.span()
        masked = masked[:start] + MASK * (end - start) + masked[end:]
        try:
            spec = time_spec(found_time)
        except BadToken as bad:
            time_bad = bad

    def ahead(day: date) -> bool:
        return spec is None or at_minutes(day, spec.start, tz) > now

    group = find_dates(masked)
    understood_time = [f"时间 {fmt_spec(spec)}"] if spec else []
    day: date | None = None
    date_note = ""
    if group:
        try:
            day, date_note = date_of(group, today, ahead)
        except BadToken as bad:
            raise refusal(bad.problem, understood_time, bad.hint) from None
    understood_date = [f"日期 {fmt_date(day)}"] if day else []
    if time_bad is not None:
        raise refusal(time_bad.problem, understood_date, time_bad.hint)
    if day is None and spec is None:
        problem = f"没看懂“{text.strip()}”里的日期和时间" if text.strip() else "没有写日期和时间"
        raise refusal(problem, [], f"请按“日期 时间 地点 内容”来写，例如：{EXAMPLE}")
    if spec is None:
        dotted = DOTTED_TIME.search(masked)
        raise refusal(
            "没有找到开会时间"
            + (f"（“{dotted[0]}”请写成“{dotted[1]}:{dotted[2]}”）" if dotted else ""),
            understood_date,
            f"请加上时间，例如：{group[0].typed} 15:00 三楼会议室",
        )
    if day is None:
        raise refusal(
            "没有找到开会日期",
            understood_time,
            f"请加上日期，例如：12月3日 {spec.typed} 三楼会议室",
        )
    rest = folded.rest([*([found_time.span()] if found_time else []), *(t.span for t in group)])
    return _when(day, spec, tz, default_minutes, date_note, rest)


def _when(
    day: date, spec: TimeSpec, tz: ZoneInfo, default_minutes: int | None, date_note: str, rest: str
) -> When:
    """Put the day and the time together, saying what was assumed in ``understood``."""
    start_at = at_minutes(day, spec.start, tz)
    end_at = None if spec.end is None else at_minutes(day, spec.end, tz)
    notes = [date_note]
    if spec.guessed_pm:
        notes.append(f"（“{spec.typed}”未写上午/下午，按下午理解）")
    if end_at is None and default_minutes:
        end_at = start_at + timedelta(minutes=default_minutes)
        notes.append(f"（未写结束时间，按{default_minutes}分钟计）")
    return When(start_at, end_at, rest, format_when(start_at, end_at) + "".join(notes))


def parse_date(text: str, *, now: datetime, tz: ZoneInfo, past: bool = False) -> date:
    """Parse a date written alone; a weekday that is today means today. A date without a
    year, a bare weekday (周五) or day (5号) is the next one, or, with ``past`` (something that
    happened), the last one up to today: on 2026-11-30, 11月28日 is 2026-11-28 and 12月3日 is
    2025-12-03."""
    today = local_now(now, tz).date()
    folded = Folded(text)
    group = find_dates(folded.text)
    if not group:
        raise refusal(f"没看懂日期“{text.strip()}”", [], DATE_HINT)
    try:
        day, _ = date_of(group, today, lambda _day: True, past)
    except BadToken as bad:
        raise refusal(bad.problem, [], bad.hint) from None
    rest = folded.rest([t.span for t in group])
    if rest:
        raise refusal(
            f"“{text.strip()}”里除了日期还有“{rest}”，看不懂",
            [f"日期 {fmt_date(day)}"],
            "请只写日期，例如：12月3日、明天、下周三",
        )
    return day
