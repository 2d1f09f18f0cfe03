"""Volunteer service: hours as people type them, the checks of an entry's fields, lookups, and
who may see or decide an entry.

An entry is seen by the member who logged it and by whoever manages its branch (the branch's
secretary, deputy secretary and organizer; a committee admin for the committee's branches);
anyone else is told it does not exist, as for an id that does not exist. Only managers
confirm or send back an entry.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from core.datetext.base import number
from handlers.errors import Forbidden, Invalid, NotFound
from models.org import BRANCH_MANAGERS, Branch, Member, acts_for
from models.volunteer import VolunteerEntry

HIDDEN = "请求的资源不存在，或您无权查看。"
NOT_MANAGER = "只有支部书记、副书记、组织委员或党委管理员可以确认志愿服务登记。"
EXAMPLE = "志愿 2小时 社区清扫"

_CN = "[一二两三四五六七八九十]+"
# A length of time as typed: 2小时, 1.5小时, 1个半小时, 两小时, 半小时, 2小时30分钟, 90分钟, 2h.
DURATION = re.compile(
    rf"(?:(?P<h>\d{{1,3}}(?:\.\d{{1,2}})?|{_CN})\s*(?:个)?\s*(?P<half>半)?|(?P<only_half>半)\s*(?:个)?)"
    r"\s*(?:小时|钟头|hours?|hrs?|h)"
    r"(?:\s*(?P<hm>\d{1,2})\s*(?:分钟|分|min))?"
    r"|(?P<m>\d{1,4})\s*(?:分钟|分|mins?|minutes?)",
    re.IGNORECASE,
)


def local_today(now: datetime, settings: Settings) -> date:
    return local_day(now, ZoneInfo(settings.app.timezone))


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def hours_text(minutes: int) -> str:
    """Minutes as people say them: 45分钟, 2小时, 1小时30分钟."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest}分钟"
    return f"{hours}小时" + (f"{rest}分钟" if rest else "")


def hours_number(minutes: int) -> float:
    """Minutes as hours with one decimal (the unit of totals): 90 → 1.5."""
    return float((Decimal(minutes) / 60).quantize(Decimal("0.1"), ROUND_HALF_UP))


def duration_minutes(match: re.Match[str]) -> int:
    """The minutes of a DURATION match, rounded to the minute (1.25小时 → 75)."""
    g = match.groupdict()
    if g["m"] is not None:
        return int(g["m"])
    hours = Decimal(0)
    if g["h"] is not None:
        hours = Decimal(g["h"]) if g["h"][0].isdigit() else Decimal(number(g["h"]))
    if g["half"] or g["only_half"]:
        hours += Decimal("0.5")
    minutes = hours * 60 + int(g["hm"] or 0)
    return int(minutes.to_integral_value(ROUND_HALF_UP))


def parse_minutes(text: str) -> int:
    """Hours or minutes typed alone (a form's field): 1.5, 1.5小时, 90分钟; else a refusal."""
    folded = unicodedata.normalize("NFKC", text or "").strip()
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,2})?", folded):
        return int((Decimal(folded) * 60).to_integral_value(ROUND_HALF_UP))
    found = DURATION.fullmatch(folded)
    if found is None:
        raise Invalid(
            f"没看懂时长“{text.strip()}”，请写成小时数（如 2 或 1.5）或“90分钟”。",
            errcode="invalid_hours",
        )
    return duration_minutes(found)


# ---- the fields -----------------------------------------------------------------------------


def checked_minutes(minutes: int, settings: Settings) -> int:
    most = settings.volunteer.max_hours_per_entry
    if minutes <= 0:
        raise Invalid("服务时长应大于 0，例如：2小时、1.5小时、90分钟。", errcode="invalid_hours")
    if minutes > most * 60:
        raise Invalid(
            f"每次最多登记 {most} 小时的志愿服务，本次 {hours_text(minutes)}。"
            "多天的服务请按天分别登记。",
            errcode="too_many_hours",
        )
    return minutes


def checked_day(day: date, today: date, settings: Settings) -> date:
    back = settings.volunteer.max_days_back
    if day > today:
        raise Invalid(
            f"{day_text(day)}还没有到，只能登记已经完成的志愿服务。", errcode="future_day"
        )
    if day < today - timedelta(days=back):
        raise Invalid(
            f"只能登记最近 {back} 天内的志愿服务（{day_text(today - timedelta(days=back))}"
            f"以后），{day_text(day)}的服务请联系支部书记。",
            errcode="too_long_ago",
        )
    return day


def checked_text(label: str, text: str, most: int, *, example: str = "") -> str:
    text = " ".join((text or "").split())
    if not text:
        raise Invalid(f"请写明{label}" + (f"，例如：{example}" if example else "") + "。",
                      errcode="missing_field")  # fmt: skip
    if len(text) > most:
        raise Invalid(f"{label}最多 {most} 字，本次 {len(text)} 字，未保存。", errcode="too_long")
    return text


# ---- who may do what ------------------------------------------------------------------------


def can_manage(actor: Member | None, branch: Branch) -> bool:
    return acts_for(actor, branch, BRANCH_MANAGERS)


def hidden() -> NotFound:
    return NotFound(HIDDEN, errcode="not_found")


def visible_entry(actor: Member, entry_id: int) -> VolunteerEntry:
    """An entry the actor logged or whose branch they manage (its branch loaded); else not
    found."""
    entry = (
        VolunteerEntry.select(VolunteerEntry, Branch)
        .join(Branch)
        .where(VolunteerEntry.id == entry_id)
        .first()
    )
    if entry is None:
        raise hidden()
    if entry.member_id != actor.id and entry.branch_id != actor.branch_id:
        if not can_manage(actor, entry.branch):
            raise hidden()
    return entry


def managed_entry(actor: Member, entry_id: int, branch_id: int | None = None) -> VolunteerEntry:
    """An entry of a branch the actor manages; a member of its branch is refused. With
    ``branch_id`` (the console's address), an entry of another branch is not found."""
    entry = visible_entry(actor, entry_id)
    if branch_id is not None and entry.branch_id != branch_id:
        raise hidden()
    if not can_manage(actor, entry.branch):
        raise Forbidden(NOT_MANAGER, errcode="forbidden")
    return entry
