"""Meetings from the server operator's terminal: no actor, branches and groups by name.

Each use case owns its write transaction; the times are the operator's words, parsed here
like the bot's (what was not understood is refused as `Invalid`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from core.datetext import DateTextError, When, parse_when
from handlers.errors import Invalid, NotFound
from handlers.meetings.base import Settings
from handlers.meetings.schedule import cancel_meeting, create_meeting, edit_meeting
from handlers.roster.lookups import branch_named
from models.base import write_tx
from models.meetings import Meeting
from models.org import Branch, PartyGroup


@dataclass(frozen=True)
class Arranged:
    """A meeting the operator scheduled, with how the time's words were understood."""

    meeting: Meeting
    understood: str  # e.g. 12月3日（周四）15:00-16:30


def _when(text: str, now: datetime, settings: Settings, default_minutes: int | None) -> When:
    try:
        return parse_when(
            text, now=now, tz=ZoneInfo(settings.app.timezone), default_minutes=default_minutes
        )
    except DateTextError as exc:
        raise Invalid(exc.message) from None


def schedule_by_names(
    branch_name: str,
    group_name: str | None,
    *,
    kind: str,
    when_text: str,
    place: str,
    title: str,
    now: datetime,
    settings: Settings,
) -> Arranged:
    """Schedule a meeting of the branch (and party group) of those names, at ``when_text``."""
    branch = branch_named(branch_name)
    group = None
    if group_name:
        group = PartyGroup.get_or_none(
            (PartyGroup.branch == branch.id) & (PartyGroup.name == group_name)
        )
        if group is None:
            raise NotFound(f"{branch_name}没有名为“{group_name}”的党小组。")
    when = _when(when_text, now, settings, settings.meetings.default_duration_minutes)
    with write_tx():
        meeting = create_meeting(
            None,
            kind=kind,
            start=when.start,
            end=when.end,
            place=place,
            title=title,
            branch=branch,
            group=group,
            now=now,
            settings=settings,
        )
    return Arranged(meeting, when.understood)


def scheduled_ahead(branch_name: str | None, now: datetime) -> list[Meeting]:
    """Scheduled meetings that have not ended (of the branch of that name), soonest first."""
    query = (
        Meeting.select(Meeting, Branch)
        .join(Branch)
        .where(Meeting.ends_at > now, Meeting.status == "scheduled")
    )
    if branch_name:
        query = query.where(Branch.name == branch_name)
    return list(query.order_by(Meeting.starts_at))


def edit_by_operator(
    meeting_id: int,
    when_text: str | None,
    changes: dict[str, str],
    *,
    now: datetime,
    settings: Settings,
) -> Meeting:
    """Change a meeting's time (the operator's words), place, title, people or record."""
    fields: dict[str, Any] = dict(changes)
    if when_text:
        when = _when(when_text, now, settings, None)
        fields.update(start=when.start, end=when.end)
    with write_tx():
        return edit_meeting(None, meeting_id, now=now, settings=settings, **fields)


def cancel_by_operator(meeting_id: int, *, now: datetime, tz: ZoneInfo | None = None) -> Meeting:
    """Cancel a meeting; attendance already recorded stays for the record."""
    with write_tx():
        return cancel_meeting(None, meeting_id, now=now, tz=tz)
