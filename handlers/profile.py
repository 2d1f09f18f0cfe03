"""我的: a member's own week of study, meetings, attendance, dues, 学时 and volunteer service —
theirs alone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from core.config import Settings
from core.workdays import work_calendar
from handlers.dues import MemberDues, member_dues
from handlers.meetings import member_meetings
from handlers.study import MemberWeek, member_week
from handlers.training import YearHours, year_hours
from handlers.volunteer import year_confirmed_minutes
from models.meetings import Meeting
from models.org import Member


@dataclass(frozen=True)
class MemberSummary:
    week: MemberWeek
    soon: list[Meeting]  # upcoming meetings the member is expected at
    attended: int  # this quarter
    held: int  # this quarter
    dues: MemberDues | None  # party members only
    training: YearHours | None  # this year's 学时, party members only
    volunteer_minutes: int  # confirmed volunteer service this year


def member_summary(member: Member, *, now: datetime, settings: Settings) -> MemberSummary:
    """The member's own summary: this week's study, meetings, attendance and dues."""
    tz = ZoneInfo(settings.app.timezone)
    calendar, max_age = work_calendar(settings), settings.study.topic_cache_seconds
    week = member_week(member, now=now, tz=tz, calendar=calendar, topic_max_age=max_age)
    soon, attended, held = member_meetings(member, now=now, tz=tz)
    party = member.is_party_member
    dues = member_dues(member, now=now, settings=settings) if party else None
    training = year_hours(member, now=now, settings=settings) if party else None
    service = year_confirmed_minutes(member, now=now, settings=settings)
    return MemberSummary(week, soon, attended, held, dues, training, service)


@dataclass(frozen=True)
class YearFigures:
    training: YearHours | None  # party members only
    volunteer_minutes: int


def year_figures(member: Member, *, now: datetime, settings: Settings) -> YearFigures:
    """The member's own year so far: 学时 against the bar, and confirmed volunteer service."""
    training = year_hours(member, now=now, settings=settings) if member.is_party_member else None
    return YearFigures(training, year_confirmed_minutes(member, now=now, settings=settings))
