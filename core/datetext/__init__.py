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

from core.datetext.base import EXAMPLE, DateTextError, When, format_when
from core.datetext.months import MAX_MONTHS, parse_month, parse_month_range, parse_period
from core.datetext.parse import parse_date, parse_when

__all__ = [
    "EXAMPLE",
    "MAX_MONTHS",
    "DateTextError",
    "When",
    "format_when",
    "parse_date",
    "parse_month",
    "parse_month_range",
    "parse_period",
    "parse_when",
]
