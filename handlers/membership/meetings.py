"""Who a meeting expects, when a member leaves or moves: the expected attendees are fixed when a
meeting is scheduled (models.meetings.MeetingAttendee), so these use cases correct them.

Meetings from the day after the move (or from now) no longer expect the member, unless the
member was recorded there (present, or on leave for a meeting already held): what was recorded
stays, and nobody is counted absent from a branch they had left. Leave requests for meetings not
held yet are withdrawn. A member who moves in is expected at the new branch's meetings not yet
started that expect the whole branch (not a party group's, nor the branch committee's).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from peewee import fn

from handlers.sheets import chunks
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import PARTY_MEMBER_STATUSES, Member

# Meetings expecting the whole branch's party members (handlers.meetings.expected_members).
WHOLE_BRANCH_EXCLUDES = ("group", "committee")


def withdraw(
    member_ids: Sequence[int], branch_id: int | None, since: datetime, now: datetime
) -> int:
    """Take the members off the meetings (of ``branch_id``, or any) starting from ``since``;
    return how many expected places were removed."""
    if not member_ids:
        return 0
    ahead = Meeting.select(Meeting.id).where(Meeting.starts_at > now)
    if branch_id is not None:
        ahead = ahead.where(Meeting.branch == branch_id)
    Attendance.delete().where(
        Attendance.member.in_(list(member_ids)),
        Attendance.status == "leave",
        Attendance.meeting.in_(ahead),
    ).execute()
    later = Meeting.select(Meeting.id).where(Meeting.starts_at >= since)
    if branch_id is not None:
        later = later.where(Meeting.branch == branch_id)
    recorded = Attendance.select(Attendance.id).where(
        Attendance.meeting == MeetingAttendee.meeting,
        Attendance.member == MeetingAttendee.member,
    )
    return (
        MeetingAttendee.delete()
        .where(
            MeetingAttendee.member.in_(list(member_ids)),
            MeetingAttendee.meeting.in_(later),
            ~fn.EXISTS(recorded),
        )
        .execute()
    )


def join_future(member_ids: Sequence[int], branch_id: int, now: datetime) -> int:
    """Expect the party members among ``member_ids`` at the branch's whole-branch meetings not
    started yet; return how many places were added."""
    if not member_ids:
        return 0
    party = [
        m
        for (m,) in Member.select(Member.id)
        .where(Member.id.in_(list(member_ids)), Member.status.in_(PARTY_MEMBER_STATUSES))
        .tuples()
    ]
    meetings = [
        m
        for (m,) in Meeting.select(Meeting.id)
        .where(
            Meeting.branch == branch_id,
            Meeting.status == "scheduled",
            Meeting.starts_at > now,
            Meeting.kind.not_in(WHOLE_BRANCH_EXCLUDES),
            Meeting.party_group.is_null(),
        )
        .tuples()
    ]
    rows = [{"meeting": meeting, "member": member} for meeting in meetings for member in party]
    added = 0
    for chunk in chunks(rows):
        added += MeetingAttendee.insert_many(chunk).on_conflict_ignore().as_rowcount().execute()
    return added
