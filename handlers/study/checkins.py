"""Study check-ins (学习打卡) with a short reflection, and a member's own week and streak."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Select

from core.clock import local_day
from core.workdays import WorkCalendar
from handlers.binding import touch
from handlers.errors import DomainError
from handlers.study.nudges import cancel_nudge
from handlers.study.topics import today_topic, topic_days
from models.base import write_tx
from models.org import Member
from models.prepared import day_reader, execute, fetchone, saved
from models.study import StudyCheckin, StudyTopic

STREAK_LOOKBACK_DAYS = 400
_day = day_reader(StudyCheckin.day)


@dataclass(frozen=True)
class CheckinResult:
    checkin: StudyCheckin
    topic: StudyTopic | None
    created: bool


@dataclass(frozen=True)
class MemberWeek:
    week_start: date
    days_checked: list[bool]  # Monday..Sunday
    streak: int
    total: int

    @property
    def days_count(self) -> int:
        return sum(self.days_checked)


def record_study(
    member: Member,
    reflection: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    max_chars: int,
    source: str = "bot",
    topic_max_age: float = 0,
) -> CheckinResult:
    """Record today's check-in (one per member, day and topic); a repeat updates the reflection.

    The day's topic may be one this process read up to ``topic_max_age`` seconds ago
    (``today_topic``); if it was deleted meanwhile, the check-in is kept as a check-in on a
    deleted topic is (no topic, the same topic_key), as if made just before the deletion.
    """
    reflection = reflection.strip()
    if len(reflection) > max_chars:
        raise DomainError(
            f"心得最多 {max_chars} 字，您这次写了 {len(reflection)} 字。请精简后重新发送，"
            "本次没有记录。"
        )
    day = local_day(now, tz)
    topic = today_topic(member, day, max_age=topic_max_age)
    key = topic.id if topic else 0
    # Insert first: the common case is the day's first check-in; the unique index turns a
    # repeat (or a concurrent delivery) into no row, and the repeat into an update.
    values = {
        "member": member.id,
        "day": day,
        "topic": topic.id if topic else None,
        "topic_key": key,
        "reflection": reflection,
        "source": source,
        "created_at": now,
        "updated_at": now,
    }
    inserted = fetchone("study_checkin_insert", _insert_checkin, values)
    if inserted is not None:
        pk, topic_id = inserted
        linked = topic if topic is not None and topic_id == topic.id else None
        row = saved(StudyCheckin(__no_default__=1, **{**values, "topic": linked}), pk)
        cancel_nudge(member, day)  # a nudge not yet sent is not needed any more
        return CheckinResult(row, topic, created=True)
    existing = StudyCheckin.get(
        (StudyCheckin.member == member.id)
        & (StudyCheckin.day == day)
        & (StudyCheckin.topic_key == key)
    )  # already checked in today
    if reflection and reflection != existing.reflection:
        existing.reflection = reflection
        existing.updated_at = now
        existing.save(only=[StudyCheckin.reflection, StudyCheckin.updated_at])
    return CheckinResult(existing, topic, created=False)


def _insert_checkin(v: Mapping[str, Any]) -> Any:
    """INSERT the check-in unless the member has it for the day and topic; RETURNING its id and
    topic. The topic is linked only if it still exists (a kept topic may have been deleted)."""
    still_there = StudyTopic.select(StudyTopic.id).where(StudyTopic.id == v["topic"])
    return (
        StudyCheckin.insert(**{**v, "topic": still_there})
        .on_conflict(
            conflict_target=[StudyCheckin.member, StudyCheckin.day, StudyCheckin.topic_key],
            action="NOTHING",
        )
        .returning(StudyCheckin.id, StudyCheckin.topic)
    )


def member_week(
    member: Member,
    *,
    now: datetime,
    tz: ZoneInfo,
    calendar: WorkCalendar,
    with_total: bool = True,
    topic_max_age: float = 0,
) -> MemberWeek:
    """Return this member's check-ins this week, their streak and total (theirs alone)."""
    today = local_day(now, tz)
    start = today - timedelta(days=today.weekday())
    first = today - timedelta(days=STREAK_LOOKBACK_DAYS)
    values = {"member": member.id, "first": first, "today": today}
    days = {_day(day) for (day,) in execute("study_member_days", _days_query, values)}
    total = (
        StudyCheckin.select().where(StudyCheckin.member == member.id).count() if with_total else 0
    )
    # The branch's topic days, read when needed (kept, as today's topic is).
    planned = partial(topic_days, member.branch, first, today, max_age=topic_max_age)
    return MemberWeek(
        week_start=start,
        days_checked=[start + timedelta(days=i) in days for i in range(7)],
        streak=streak(days, today, calendar, planned, first),
        total=total,
    )


def streak(
    days: set[date],
    today: date,
    calendar: WorkCalendar,
    planned: Callable[[], AbstractSet[date]],
    first: date,
) -> int:
    """Study days in a row with a check-in, back from today (or yesterday, if today has none
    yet). A study day is a working day or a day with a topic in the plan; a day that is neither
    (a weekend, a holiday) breaks nothing, and a check-in on it still counts."""
    count = 0
    plan_days: AbstractSet[date] | None = None  # read only at a day off without a check-in
    cursor = today if today in days else today - timedelta(days=1)
    while cursor > first:
        if cursor in days:
            count += 1
        elif calendar.is_workday(cursor):
            break
        else:
            if plan_days is None:
                plan_days = planned()
            if cursor in plan_days:
                break
        cursor -= timedelta(days=1)
    return count


def _days_query(v: Mapping[str, Any]) -> Select:
    """The days a member checked in, from after ``first`` to ``today``."""
    return (
        StudyCheckin.select(StudyCheckin.day)
        .where(
            StudyCheckin.member == v["member"],
            StudyCheckin.day > v["first"],
            StudyCheckin.day <= v["today"],
        )
        .distinct()
    )


@dataclass(frozen=True)
class StudyDay:
    day: date
    topic: StudyTopic | None
    checked_in: bool


def study_day(
    member: Member, *, now: datetime, tz: ZoneInfo, topic_max_age: float = 0
) -> StudyDay:
    """Today for the member: the topic (see ``today_topic``), and whether they checked in."""
    day = local_day(now, tz)
    topic = today_topic(member, day, max_age=topic_max_age)
    checked = StudyCheckin.select().where(
        StudyCheckin.member == member.id, StudyCheckin.day == day
    )
    return StudyDay(day, topic, checked.exists())


@dataclass(frozen=True)
class CheckedIn:
    result: CheckinResult
    week: MemberWeek  # after the check-in


def check_in(
    member: Member,
    reflection: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    calendar: WorkCalendar,
    max_chars: int,
    source: str,
    topic_max_age: float = 0,
) -> CheckedIn:
    """Record today's check-in and note the member's activity in one transaction."""
    with write_tx():
        result = record_study(
            member,
            reflection,
            now=now,
            tz=tz,
            max_chars=max_chars,
            source=source,
            topic_max_age=topic_max_age,
        )
        touch(member, now)
    week = member_week(member, now=now, tz=tz, calendar=calendar, topic_max_age=topic_max_age)
    return CheckedIn(result, week)


def check_in_by_message(
    member: Member,
    reflection: str,
    *,
    now: datetime,
    tz: ZoneInfo,
    calendar: WorkCalendar,
    max_chars: int,
    topic_max_age: float = 0,
) -> CheckedIn:
    """学习 in the chat: record today's check-in; the week comes without the all-time total.

    The bot's dispatcher owns the transaction and notes the member's activity.
    """
    result = record_study(
        member, reflection, now=now, tz=tz, max_chars=max_chars, topic_max_age=topic_max_age
    )
    week = member_week(
        member, now=now, tz=tz, calendar=calendar, with_total=False, topic_max_age=topic_max_age
    )
    return CheckedIn(result, week)


@dataclass(frozen=True)
class StudyRecord:
    week: MemberWeek
    recent: list[StudyCheckin]  # newest first


def study_record(
    member: Member,
    *,
    now: datetime,
    tz: ZoneInfo,
    calendar: WorkCalendar,
    recent: int,
    topic_max_age: float = 0,
) -> StudyRecord:
    """The member's week and their latest ``recent`` check-ins (theirs alone)."""
    rows = (
        StudyCheckin.select()
        .where(StudyCheckin.member == member.id)
        .order_by(StudyCheckin.day.desc(), StudyCheckin.id.desc())
        .limit(recent)
    )
    week = member_week(member, now=now, tz=tz, calendar=calendar, topic_max_age=topic_max_age)
    return StudyRecord(week, list(rows))
