"""A member logs their volunteer service (志愿 2小时 社区清扫, or the mini-program) and reads
their own entries and totals: theirs alone, never another member's."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from peewee import Case, fn

from core.config import Settings
from core.datetext import DateTextError, parse_date
from handlers.errors import Conflict, Invalid
from handlers.volunteer.base import (
    DURATION,
    EXAMPLE,
    checked_day,
    checked_minutes,
    checked_text,
    day_text,
    duration_minutes,
    hours_text,
    local_today,
)
from models.base import write_tx
from models.org import Member
from models.volunteer import SOURCES, VolunteerEntry

# Characters a word made only of is meant as a date (11月28日, 2026-11-28, 5号), so a date
# that does not parse is refused rather than taken as what was done.
_DATE_CHARS = set("0123456789年月日号/-.一二两三四五六七八九十〇零")


@dataclass(frozen=True)
class Logged:
    entry: VolunteerEntry
    year_confirmed_minutes: int  # this year's confirmed service, this entry not yet in it


@dataclass(frozen=True)
class Totals:
    """A member's own service in a year: confirmed, waiting, sent back."""

    year: int
    confirmed_minutes: int
    confirmed_entries: int
    pending_minutes: int
    pending_entries: int
    rejected_entries: int


@dataclass(frozen=True)
class MyEntries:
    items: list[VolunteerEntry]  # newest first
    total: int
    limit: int
    offset: int
    totals: Totals


def log_service(
    member: Member,
    *,
    minutes: int,
    description: str,
    day: date | None,
    source: str,
    now: datetime,
    settings: Settings,
) -> Logged:
    """Log the member's service (待确认): the day (default today) within the last
    ``volunteer.max_days_back`` days, at most ``volunteer.max_hours_per_entry`` hours; the same
    service logged twice is refused."""
    assert source in SOURCES, source
    today = local_today(now, settings)
    day = checked_day(day or today, today, settings)
    minutes = checked_minutes(minutes, settings)
    most = settings.volunteer.description_max_chars
    description = checked_text("服务内容", description, most, example=EXAMPLE)
    with write_tx():
        twice = VolunteerEntry.select().where(
            VolunteerEntry.member == member.id,
            VolunteerEntry.day == day,
            VolunteerEntry.minutes == minutes,
            VolunteerEntry.description == description,
            VolunteerEntry.status != "rejected",
        )
        if twice.exists():
            raise Conflict(
                f"{day_text(day)}的这次志愿服务（{hours_text(minutes)} {description}）"
                "已经登记过了，无需重复登记。",
                errcode="already_logged",
            )
        entry = VolunteerEntry.create(
            member=member.id,
            branch=member.branch_id,
            day=day,
            minutes=minutes,
            description=description,
            source=source,
            created_at=now,
        )
    totals = _totals(member.id, today.year)
    return Logged(entry, totals.confirmed_minutes)


def _date_word(word: str, now: datetime, settings: Settings) -> date | None:
    """The day a word names (the last such day up to today), or None if it is no date."""
    try:
        return parse_date(word, now=now, tz=ZoneInfo(settings.app.timezone), past=True)
    except DateTextError:
        if set(word) <= _DATE_CHARS and any(c in word for c in "月日号/-"):
            raise
        return None


def parse_message(text: str, *, now: datetime, settings: Settings) -> tuple[int, str, date | None]:
    """Read ``2小时 社区清扫 [11月28日]``: the minutes, what was done, and the day (None:
    today). The length may come anywhere (the first one counts), the day as a word of its own."""
    words = unicodedata.normalize("NFKC", text or "").split()
    minutes: int | None = None
    day: date | None = None
    rest: list[str] = []
    for word in words:
        found = DURATION.match(word) if minutes is None else None
        if found is not None:
            minutes = duration_minutes(found)
            if word[found.end() :]:
                rest.append(word[found.end() :])
            continue
        named = _date_word(word, now, settings) if day is None else None
        if named is not None:
            day = named
            continue
        rest.append(word)
    if minutes is None:
        raise Invalid(
            "请写明服务时长和内容，例如：" + EXAMPLE + "（也可以写 1.5小时、90分钟）。",
            errcode="missing_field",
            chat_hint="\n补登以前的服务请在最后写日期，例如：志愿 2小时 社区清扫 11月28日",
        )
    return minutes, " ".join(rest), day


def log_by_message(member: Member, text: str, *, now: datetime, settings: Settings) -> Logged:
    """志愿 2小时 社区清扫 [日期]: log the service the bot's words describe."""
    try:
        minutes, description, day = parse_message(text, now=now, settings=settings)
    except DateTextError as exc:
        raise Invalid(exc.message, errcode="invalid_day") from None
    return log_service(
        member,
        minutes=minutes,
        description=description,
        day=day,
        source="bot",
        now=now,
        settings=settings,
    )


def _totals(member_id: int, year: int) -> Totals:
    """The member's entries of the year, by status (one query)."""

    def of(status: str, value: object) -> fn.SUM:
        return fn.SUM(Case(None, [(VolunteerEntry.status == status, value)], 0))

    row = (
        VolunteerEntry.select(
            of("confirmed", VolunteerEntry.minutes),
            of("confirmed", 1),
            of("pending", VolunteerEntry.minutes),
            of("pending", 1),
            of("rejected", 1),
        )
        .where(
            VolunteerEntry.member == member_id,
            VolunteerEntry.day >= date(year, 1, 1),
            VolunteerEntry.day <= date(year, 12, 31),
        )
        .tuples()
        .first()
    )
    return Totals(year, *(int(v or 0) for v in row or (0,) * 5))


def my_entries(
    member: Member, *, now: datetime, settings: Settings, limit: int, offset: int
) -> MyEntries:
    """The member's own entries, newest first, with this year's totals."""
    query = VolunteerEntry.select().where(VolunteerEntry.member == member.id)
    items = list(
        query.order_by(VolunteerEntry.day.desc(), VolunteerEntry.id.desc())
        .limit(limit)
        .offset(offset)
    )
    totals = _totals(member.id, local_today(now, settings).year)
    return MyEntries(items, query.count(), limit, offset, totals)


def year_confirmed_minutes(member: Member, *, now: datetime, settings: Settings) -> int:
    """The member's confirmed service this year, in minutes (我的)."""
    return _totals(member.id, local_today(now, settings).year).confirmed_minutes
