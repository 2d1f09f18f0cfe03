"""What the date and time parsers share: numerals, pattern pieces, folding, errors, rendering."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

EXAMPLE = "12月3日 15:00 三楼会议室 学习党章"
WEEK = "一二三四五六日"
_CN_DIGIT = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4}
_CN_DIGIT |= {"五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_YEAR_WORDS = {"今": 0, "明": 1, "去": -1}
# Pieces of patterns (matched against NFKC-folded text).
_CN_NUM = "(?:[一二三四五六七八九]?十[一二三四五六七八九]?|[零〇一二两三四五六七八九])"
NUM = rf"(?:\d{{1,2}}|{_CN_NUM})"
SEP = r"\s*(?:-+|—+|–+|―+|~+|〜|至|到)\s*"
NOT_AFTER_NUMBER = "楼层号室栋座幢"  # a number followed by these is a place, not a date or time


def year_pattern(x: str) -> str:
    """Return the pattern of a year followed by 年, its group names prefixed with x."""
    return (
        rf"(?:(?<!\d)(?P<{x}y>\d{{4}}|\d{{2}})|(?P<{x}yc>[〇零一二三四五六七八九]{{4}})"
        rf"|(?P<{x}yw>今|明|去))\s*年\s*"
    )


_EMPTY_PAIRS = re.compile(r"\(\s*\)|（\s*）|\[\s*\]|［\s*］|【\s*】|「\s*」|〔\s*〕")
EDGE_PUNCT = ",，、;；:：.。~～〜-－—–―/／|"


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


class BadToken(Exception):
    """Signal a recognised but invalid token, with the problem and a hint for the user."""

    def __init__(self, problem: str, hint: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


class Folded:
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
        words = (w.strip(EDGE_PUNCT) for w in s.split())
        return " ".join(w for w in words if w)


def refusal(problem: str, understood: list[str], hint: str) -> DateTextError:
    """Build the user-facing error: the problem, what was understood, a hint with an example."""
    said = f"已识别：{'，'.join(understood)}。" if understood else ""
    return DateTextError(f"{problem}。{said}{hint}")


def local_now(now: datetime, tz: ZoneInfo) -> datetime:
    """Return now in tz, refusing a naive datetime."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz)


def number(s: str) -> int:
    """Return the value of ASCII digits or a Chinese numeral (十二, 三十一, 二〇二六)."""
    if s.isascii() and s.isdigit():
        return int(s)
    if "十" in s:
        tens, _, ones = s.partition("十")
        return (_CN_DIGIT[tens] if tens else 1) * 10 + (_CN_DIGIT[ones] if ones else 0)
    return int("".join(str(_CN_DIGIT[c]) for c in s))


def fmt_date(d: date) -> str:
    """Render a date as 2026年12月3日（星期四）."""
    return f"{d.year}年{d.month}月{d.day}日（星期{WEEK[d.weekday()]}）"


def hm(minutes: int) -> str:
    """Render minutes after midnight as 9:30 or 15:00."""
    return f"{minutes // 60}:{minutes % 60:02d}"


def format_when(start: datetime, end: datetime | None) -> str:
    """Render a meeting time as 2026年12月3日（星期四）15:00—16:30."""
    text = fmt_date(start.date()) + hm(start.hour * 60 + start.minute)
    if end is None:
        return text
    if end.tzinfo is not None and start.tzinfo is not None:
        end = end.astimezone(start.tzinfo)
    end_hm = end.hour * 60 + end.minute
    if end.date() == start.date():
        return f"{text}—{hm(end_hm)}"
    if end.date() == start.date() + timedelta(days=1) and end_hm == 0:
        return f"{text}—24:00"
    return f"{text}—{fmt_date(end.date())}{hm(end_hm)}"


def year_value(g: dict[str, str | None], x: str, today: date) -> int | None:
    """Return the year written in the groups prefixed with x, or None."""
    if y := g.get(x + "y"):
        return int(y) + (2000 if len(y) == 2 else 0)
    if yc := g.get(x + "yc"):
        return number(yc)
    if yw := g.get(x + "yw"):
        return today.year + _YEAR_WORDS[yw]
    return None
