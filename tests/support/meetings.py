"""Meetings as test data: a meeting with its expected people and recorded attendance."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta

from models.meetings import QUORUM_KINDS, Attendance, Meeting, MeetingAttendee
from models.org import Branch, Member, PartyGroup
from tests import factories as f

_scene = itertools.count(1)


def meet(
    br: Branch,
    kind: str,
    start: datetime,
    minutes: int = 90,
    *,
    group: PartyGroup | None = None,
    status: str = "scheduled",
    present: Sequence[Member] | None = None,
    absent: Sequence[Member] = (),
) -> Meeting:
    """A meeting with `present` and `absent` expected and their attendance recorded.

    A 党员大会 or 支委会 counts only with a quorum: without `present`, one voter (a full member
    made for it) is expected and present, so the meeting has one; pass present=[] for none.
    """
    meeting = Meeting.create(
        branch=br,
        party_group=group,
        kind=kind,
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        status=status,
        qr_scene=f"mtg_cal_{next(_scene)}",
    )
    if present is None:
        present = [f.member(br=br)] if kind in QUORUM_KINDS else []
    for member in (*present, *absent):
        MeetingAttendee.create(meeting=meeting, member=member)
    for member in present:
        Attendance.create(meeting=meeting, member=member, status="present", method="code")
    return meeting
