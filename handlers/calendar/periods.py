"""Calendar periods: months, quarters and years in the branch time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from core.clock import UTC

FREQUENCIES = ("month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    """One calendar month, quarter or year; `end` is the last day (inclusive)."""

    kind: str
    start: date
    end: date
    label: str

    def previous(self) -> Period:
        """Return the period of the same kind just before this one."""
        return period_of(self.start - timedelta(days=1), self.kind)

    def contains(self, day: date) -> bool:
        """Tell whether a local calendar day falls inside the period."""
        return self.start <= day <= self.end


def period_of(day: date, frequency: str) -> Period:
    """Return the month, quarter or year period that holds a local calendar day."""
    if frequency == "month":
        start = day.replace(day=1)
        label = f"{day.year}年{day.month}月"
    elif frequency == "quarter":
        quarter = (day.month - 1) // 3 + 1
        start = date(day.year, 3 * quarter - 2, 1)
        label = f"{day.year}年第{quarter}季度"
    elif frequency == "year":
        start = date(day.year, 1, 1)
        label = f"{day.year}年"
    else:
        raise ValueError(f"unknown period frequency {frequency!r}; expected month|quarter|year")
    months = {"month": 1, "quarter": 3, "year": 12}[frequency]
    after = start.month - 1 + months
    next_start = date(start.year + after // 12, after % 12 + 1, 1)
    return Period(frequency, start, next_start - timedelta(days=1), label)


def utc_bounds(period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the period as a half-open [start, end) range of aware UTC datetimes."""
    start = datetime.combine(period.start, time(), tzinfo=tz).astimezone(UTC)
    end = datetime.combine(period.end + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC)
    return start, end


def periods_back(day: date, frequency: str, depth: int) -> list[Period]:
    """Return the current period and the `depth - 1` before it, newest first."""
    periods = [period_of(day, frequency)]
    while len(periods) < depth:
        periods.append(periods[-1].previous())
    return periods
