"""Time helpers: every datetime in the system is timezone-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

UTC = UTC


def utcnow() -> datetime:
    """Return the current time, aware, in UTC."""
    return datetime.now(UTC)


def local_now(tz: ZoneInfo) -> datetime:
    """Return the current time in the branch's time zone."""
    return utcnow().astimezone(tz)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    """Return the calendar day of an aware datetime in the given zone."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given where an aware one is required")
    return at.astimezone(tz).date()
