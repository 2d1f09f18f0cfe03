"""Meeting reminders before a meeting and its attendance summary to the secretary after it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from core.config import Settings
from handlers.meetings import describe, signin_window
from handlers.outbox import Outgoing
from handlers.reminders.common import local_zone, manager_ids
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import Member


def meeting_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    """24 h and 1 h before each meeting, a reminder to its branch group naming who is expected."""
    tz = local_zone(settings)
    meetings = list(
        Meeting.select()
        .where(
            Meeting.status == "scheduled",
            Meeting.starts_at > now,
            Meeting.starts_at <= now + timedelta(hours=24),
        )
        .order_by(Meeting.starts_at)
    )
    if not meetings:
        return []
    expected = _expected([m.id for m in meetings])
    rows = []
    for meeting in meetings:
        lead = meeting.starts_at - now
        label = "1h" if lead <= timedelta(hours=1) else "24h"
        when = "1小时后" if label == "1h" else "明天" if lead > timedelta(hours=12) else "今天"
        opens, _ = signin_window(meeting, settings)
        people = expected.get(meeting.id, [])
        text = (
            f"【会议提醒】{when}召开：{describe(meeting, tz)}\n"
            f"应到 {len(people)} 人。{opens.astimezone(tz):%H:%M} 起可签到，"
            "不能参加的请发送“请假 原因”。"
        )
        rows.append(
            Outgoing(
                "meeting_reminder",
                "branch",
                meeting.branch_id,
                f"{meeting.id}:{label}",
                {"text": text, "title": "会议提醒", "mention_member_ids": [p.id for p in people]},
                meeting.branch_id,
            )
        )
    return rows


def _expected(meeting_ids: list[int]) -> dict[int, list[Member]]:
    out: dict[int, list[Member]] = defaultdict(list)
    query = (
        MeetingAttendee.select(MeetingAttendee, Member)
        .join(Member)
        .where(MeetingAttendee.meeting.in_(meeting_ids))
        .order_by(Member.id)
    )
    for row in query:
        out[row.meeting_id].append(row.member)
    return out


def meeting_summaries(now: datetime, settings: Settings) -> list[Outgoing]:
    """After a meeting ends, present / on leave / absent to the branch secretary."""
    tz = local_zone(settings)
    meetings = list(
        Meeting.select().where(
            Meeting.status == "scheduled",
            Meeting.ends_at <= now,
            Meeting.ends_at > now - timedelta(hours=24),
        )
    )
    if not meetings:
        return []
    ids = [m.id for m in meetings]
    expected = _expected(ids)
    marks = {
        (a.meeting_id, a.member_id): a
        for a in Attendance.select().where(Attendance.meeting.in_(ids))
    }
    secretaries = manager_ids({m.branch_id for m in meetings})
    rows = []
    for meeting in meetings:
        secretary_id = secretaries.get(meeting.branch_id)
        if secretary_id is None:
            continue
        present, leave, absent = [], [], []
        for member in expected.get(meeting.id, []):
            mark = marks.get((meeting.id, member.id))
            if mark is not None and mark.status == "present":
                present.append(member.name)
            elif mark is not None and mark.leave_status == "approved":
                leave.append(member.name)
            else:
                absent.append(member.name)
        total = len(present) + len(leave) + len(absent)
        text = (
            f"【会议情况】{describe(meeting, tz)}\n应到 {total} 人，实到 {len(present)} 人\n"
            f"请假：{'、'.join(leave) or '无'}\n缺席：{'、'.join(absent) or '无'}"
        )
        rows.append(
            Outgoing(
                "meeting_summary",
                "member",
                secretary_id,
                str(meeting.id),
                {"text": text, "title": "会议情况"},
                meeting.branch_id,
            )
        )
    return rows
