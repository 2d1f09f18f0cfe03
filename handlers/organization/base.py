"""What the organization use cases share: days, people's names, checked texts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from handlers.errors import Invalid
from models.org import Member

# Branches a committee admin's digest line names; the rest are counted.
BRANCHES_NAMED = 10


@dataclass(frozen=True)
class Person:
    id: int
    name: str


def local_today(now: datetime, settings: Settings) -> date:
    return local_day(now, ZoneInfo(settings.app.timezone))


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def people(ids: Iterable[int | None]) -> dict[int, Person]:
    """The named members by id, in one query."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    query = Member.select(Member.id, Member.name).where(Member.id.in_(wanted))
    return {i: Person(i, name) for i, name in query.tuples()}


def checked_text(text: str | None, label: str, most: int, *, required: bool = False) -> str:
    """A text stripped and within ``most`` characters; refused in words naming the field."""
    text = (text or "").strip()
    if required and not text:
        raise Invalid(f"请填写{label}。", errcode="missing_field")
    if len(text) > most:
        raise Invalid(f"{label}最多 {most} 字，本次 {len(text)} 字，未保存。", errcode="too_long")
    return text


def named_branches(names: list[str]) -> str:
    """第一党支部、第二党支部, or the first ten and 等 N 个支部."""
    shown = "、".join(names[:BRANCHES_NAMED])
    return shown + (f"等 {len(names)} 个支部" if len(names) > BRANCHES_NAMED else "")
