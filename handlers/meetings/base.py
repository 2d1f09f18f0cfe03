"""Meetings: the shared words (times, a meeting in one line), who may manage, and lookups."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.config import Settings
from handlers.errors import Forbidden, Invalid, NotFound
from models.meetings import Meeting, MeetingAttendee
from models.org import BRANCH_MANAGERS, Branch, Member, acts_for

# Roles that make someone a member of the branch committee (支委).
COMMITTEE_ROLES = ("secretary", "deputy_secretary", "organizer", "propaganda", "discipline")
SCENE_PREFIX = "mtg_"
WEEKDAYS = "一二三四五六日"


def hm(at: datetime, tz: ZoneInfo) -> str:
    """Render a time as 15:00 in the branch's zone."""
    return at.astimezone(tz).strftime("%H:%M")


def day_hm(at: datetime, tz: ZoneInfo) -> str:
    """Render a moment as 12月3日（周四）15:00 in the branch's zone."""
    local = at.astimezone(tz)
    return f"{local.month}月{local.day}日（周{WEEKDAYS[local.weekday()]}）{local:%H:%M}"


def describe(meeting: Meeting, tz: ZoneInfo) -> str:
    """Name a meeting in one line: 【编号12】党课《学习党章》12月3日（周四）15:00 三楼."""
    title = f"《{meeting.title}》" if meeting.title else ""
    place = f" {meeting.place}" if meeting.place else ""
    return (
        f"【编号{meeting.id}】{meeting.kind_label}{title} {day_hm(meeting.starts_at, tz)}{place}"
    )


# ---- who may do what ------------------------------------------------------------------------


def can_manage(actor: Member | None, branch: Branch) -> bool:
    """Branch managers run their own branch; a committee admin runs the committee's branches."""
    return acts_for(actor, branch, BRANCH_MANAGERS)


def require_manager(actor: Member | None, branch: Branch) -> None:
    if not can_manage(actor, branch):
        assert actor is not None
        if actor.has_role(*BRANCH_MANAGERS):
            raise Forbidden(
                f"您只能管理本支部的会议，{branch.name}的会议请由该支部书记安排。",
                errcode="forbidden",
            )
        raise Forbidden("只有支部书记、副书记或组织委员可以安排会议和签到。", errcode="forbidden")


def signin_window(meeting: Meeting, settings: Settings) -> tuple[datetime, datetime]:
    """Return when sign-in opens and closes for this meeting."""
    cfg = settings.meetings
    opens = meeting.starts_at - timedelta(minutes=cfg.signin_open_before_minutes)
    closes = meeting.starts_at + timedelta(minutes=cfg.signin_close_after_start_minutes)
    return opens, closes


RECORD_FIELDS = {"minutes": "纪要", "decisions": "决议"}


def check_record(field: str, text: str, settings: Settings) -> str:
    """The minutes or decisions, stripped, if within their limit ([meetings]); else refused."""
    limit = getattr(settings.meetings, f"{field}_max_chars")
    text = text.strip()
    if len(text) > limit:
        raise Invalid(
            f"{RECORD_FIELDS[field]}最多 {limit} 字，本次 {len(text)} 字，未保存。",
            errcode="too_long",
        )
    return text


def find_meeting(meeting_id: int) -> Meeting | None:
    """The meeting with this id (its branch loaded), whoever may see it; None if there is none."""
    return Meeting.select(Meeting, Branch).join(Branch).where(Meeting.id == meeting_id).first()


def get_meeting(actor: Member | None, meeting_id: int) -> Meeting:
    """Return a meeting the actor may manage, or explain why not."""
    meeting = find_meeting(meeting_id)
    if meeting is None:
        raise NotFound(
            f"没有编号为 {meeting_id} 的会议。",
            errcode="not_found",
            chat_hint="请发送“会议”查看会议列表。",
        )
    require_manager(actor, meeting.branch)
    return meeting


def upcoming(branch_id: int, now: datetime, limit: int = 10) -> list[Meeting]:
    """Scheduled meetings of a branch that have not ended yet, soonest first."""
    return list(
        Meeting.select()
        .where(
            Meeting.branch == branch_id,
            Meeting.status == "scheduled",
            Meeting.ends_at > now,
        )
        .order_by(Meeting.starts_at)
        .limit(limit)
    )


def is_expected(meeting: Meeting, member: Member) -> bool:
    return (
        MeetingAttendee.select()
        .where(MeetingAttendee.meeting == meeting.id, MeetingAttendee.member == member.id)
        .exists()
    )
