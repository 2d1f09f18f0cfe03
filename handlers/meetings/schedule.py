"""Meetings: schedule, edit and cancel, with the expected attendees fixed at scheduling."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.datetext import DateTextError, parse_when
from handlers.errors import DomainError
from handlers.meetings.base import (
    COMMITTEE_ROLES,
    SCENE_PREFIX,
    Settings,
    check_record,
    day_hm,
    describe,
    get_meeting,
    hm,
    require_manager,
)
from handlers.meetings.trail import meeting_fields, record_meeting, record_meeting_change
from models.base import db
from models.meetings import KINDS, Meeting, MeetingAttendee
from models.org import LEFT, PARTY_MEMBER_STATUSES, Branch, Member, PartyGroup

log = logging.getLogger(__name__)


def expected_members(branch: Branch, kind: str, group: PartyGroup | None) -> list[Member]:
    """Who must attend: party members of the branch (or group); the committee for `committee`."""
    query = Member.select().where(
        Member.branch == branch.id, Member.status.in_(PARTY_MEMBER_STATUSES)
    )
    if kind == "group" and group is not None:
        query = query.where(Member.party_group == group.id)
    members = list(query.order_by(Member.id))
    if kind == "committee":
        members = [m for m in members if m.has_role(*COMMITTEE_ROLES)]
    return members


def _window(start: datetime, settings: Settings) -> tuple[datetime, datetime]:
    cfg = settings.meetings
    return (
        start - timedelta(minutes=cfg.signin_open_before_minutes),
        start + timedelta(minutes=cfg.signin_close_after_start_minutes),
    )


def _check_times(
    branch: Branch,
    start: datetime,
    end: datetime,
    now: datetime,
    settings: Settings,
    tz: ZoneInfo,
    exclude: int | None = None,
) -> None:
    if start <= now:
        raise DomainError(
            f"会议时间 {day_hm(start, tz)} 已经过去，请填写将来的时间。", errcode="time_in_past"
        )
    if end <= start:
        raise DomainError(
            f"结束时间 {hm(end, tz)} 不晚于开始时间 {hm(start, tz)}，请检查，例如 15:00-16:30。",
            errcode="end_before_start",
        )
    opens, closes = _window(start, settings)
    # Two meetings of one branch with overlapping sign-in windows would make a code or a
    # scan ambiguous and split the members between them.
    span = settings.meetings
    before = timedelta(minutes=span.signin_open_before_minutes)
    after = timedelta(minutes=span.signin_close_after_start_minutes)
    clash = Meeting.select().where(
        Meeting.branch == branch.id,
        Meeting.status == "scheduled",
        Meeting.starts_at < closes + before,
        Meeting.starts_at > opens - after,
    )
    if exclude is not None:
        clash = clash.where(Meeting.id != exclude)
    other = clash.first()
    if other is not None:
        raise DomainError(
            f"与已安排的会议签到时间重叠：{describe(other, tz)}。"
            "两个会议的开始时间请至少错开签到时段，或先修改、取消原会议。",
            errcode="signin_overlap",
        )


def _managed_branch(
    actor: Member | None, branch: Branch | None, group: PartyGroup | None
) -> Branch:
    """The branch to schedule for (the actor's by default), once the actor may manage it."""
    if branch is None:
        if actor is None:
            raise DomainError("请指定支部。")
        branch = Branch.get_by_id(actor.branch_id)
    require_manager(actor, branch)
    if group is not None and group.branch_id != branch.id:
        raise DomainError(
            f"党小组“{group.name}”不属于{branch.name}。", errcode="group_not_in_branch"
        )
    return branch


def create_meeting(
    actor: Member | None,
    *,
    kind: str,
    start: datetime,
    end: datetime | None,
    place: str = "",
    title: str = "",
    branch: Branch | None = None,
    group: PartyGroup | None = None,
    host_id: int | None = None,
    recorder_id: int | None = None,
    now: datetime,
    settings: Settings,
) -> Meeting:
    """Schedule a meeting and fix its expected attendees (host and recorder by member id)."""
    tz = ZoneInfo(settings.app.timezone)
    if kind not in KINDS:
        raise DomainError(
            "会议类型不对，可选：" + "、".join(KINDS.values()), errcode="invalid_kind"
        )
    branch = _managed_branch(actor, branch, group)
    if end is None:
        end = start + timedelta(minutes=settings.meetings.default_duration_minutes)
    _check_times(branch, start, end, now, settings, tz)
    host = _branch_member_by_id(branch, host_id, "主持人") if host_id is not None else None
    recorder = (
        _branch_member_by_id(branch, recorder_id, "记录人") if recorder_id is not None else None
    )
    attendees = expected_members(branch, kind, group)
    with db.atomic():
        meeting = Meeting.create(
            branch=branch.id,
            party_group=group.id if group else None,
            kind=kind,
            title=title.strip()[:200],
            place=place.strip()[:200],
            starts_at=start,
            ends_at=end,
            host=host.id if host else None,
            recorder=recorder.id if recorder else None,
            qr_scene=SCENE_PREFIX + secrets.token_urlsafe(12),
            created_by=actor.id if actor else None,
            created_at=now,
            updated_at=now,
        )
        if attendees:
            MeetingAttendee.insert_many(
                [{"meeting": meeting.id, "member": m.id} for m in attendees]
            ).execute()
        after = meeting_fields(meeting, tz)
        after["expected"] = len(attendees)
        after = {k: v for k, v in after.items() if v not in (None, "")}
        record_meeting(actor, "meeting.schedule", "安排会议", meeting, tz, now=now, after=after)
    log.info("meeting %s (%s) scheduled for branch %s", meeting.id, kind, branch.id)
    return meeting


def edit_meeting(
    actor: Member | None,
    meeting_id: int,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    place: str | None = None,
    title: str | None = None,
    host: str | None = None,
    recorder: str | None = None,
    minutes: str | None = None,
    decisions: str | None = None,
    host_id: int | None = None,
    recorder_id: int | None = None,
    now: datetime,
    settings: Settings,
) -> Meeting:
    """Change a meeting (time only while ahead); attendance already recorded stays.

    host and recorder go by name (the bot) or by member id (host_id, recorder_id); a new end
    without a new start keeps the start and follows the same rules as a new time.
    """
    tz = ZoneInfo(settings.app.timezone)
    meeting = get_meeting(actor, meeting_id)
    if meeting.status != "scheduled":
        raise DomainError(
            f"{describe(meeting, tz)} 已取消，不能修改。", errcode="meeting_cancelled"
        )
    before = meeting_fields(meeting, tz)
    if start is None and end is not None:
        start = meeting.starts_at
    if start is not None:
        if meeting.starts_at <= now:
            raise DomainError(
                f"{describe(meeting, tz)} 已经开始或召开过，不能再改时间；"
                "如需另开，请重新安排会议。",
                errcode="meeting_started",
            )
        duration = meeting.ends_at - meeting.starts_at
        new_end = end or start + duration
        _check_times(meeting.branch, start, new_end, now, settings, tz, exclude=meeting.id)
        meeting.starts_at, meeting.ends_at = start, new_end
    _apply_details(
        meeting,
        settings,
        place=place,
        title=title,
        host=host,
        recorder=recorder,
        minutes=minutes,
        decisions=decisions,
        host_id=host_id,
        recorder_id=recorder_id,
    )
    meeting.updated_at = now
    meeting.save()
    record_meeting_change(actor, "meeting.change", "修改会议", meeting, tz, before, now=now)
    return meeting


def _apply_details(
    meeting: Meeting,
    settings: Settings,
    *,
    place: str | None,
    title: str | None,
    host: str | None,
    recorder: str | None,
    minutes: str | None,
    decisions: str | None,
    host_id: int | None,
    recorder_id: int | None,
) -> None:
    """Set the given place, title, host, recorder, minutes and decisions (None: unchanged)."""
    if place is not None:
        meeting.place = place.strip()[:200]
    if title is not None:
        meeting.title = title.strip()[:200]
    if host is not None:
        meeting.host = _branch_member(meeting.branch, host, "主持人")
    if recorder is not None:
        meeting.recorder = _branch_member(meeting.branch, recorder, "记录人")
    if host_id is not None:
        meeting.host = _branch_member_by_id(meeting.branch, host_id, "主持人")
    if recorder_id is not None:
        meeting.recorder = _branch_member_by_id(meeting.branch, recorder_id, "记录人")
    for name, value in (("minutes", minutes), ("decisions", decisions)):
        if value is not None:
            setattr(meeting, name, check_record(name, value, settings))


def _branch_member(branch: Branch, name: str, what: str) -> Member:
    """The one member of the branch with this name, or a refusal naming the problem."""
    name = name.strip()
    found = list(
        Member.select().where(
            Member.branch == branch.id, Member.name == name, Member.status != LEFT
        )
    )
    if len(found) != 1:
        problem = "没有" if not found else f"有 {len(found)} 位"
        raise DomainError(
            f"{branch.name}{problem}名为“{name}”的党员，请核对{what}姓名。",
            errcode="member_not_in_branch",
        )
    return found[0]


def _branch_member_by_id(branch: Branch, member_id: int, what: str) -> Member:
    """The member of the branch with this id, or a refusal that tells nothing of other branches."""
    found = Member.get_or_none((Member.id == member_id) & (Member.branch == branch.id))
    if found is None:
        raise DomainError(
            f"{branch.name}没有编号为 {member_id} 的党员，请核对{what}。",
            errcode="member_not_in_branch",
        )
    return found


def cancel_meeting(
    actor: Member | None, meeting_id: int, *, now: datetime, tz: ZoneInfo | None = None
) -> Meeting:
    """Cancel a meeting; attendance already recorded stays for the record (``tz``: the zone
    its time is recorded in, UTC when not given)."""
    meeting = get_meeting(actor, meeting_id)
    if meeting.status == "cancelled":
        raise DomainError(f"编号 {meeting_id} 的会议已经取消过了。", errcode="meeting_cancelled")
    meeting.status = "cancelled"
    meeting.updated_at = now
    meeting.save(only=[Meeting.status, Meeting.updated_at])
    zone = tz or ZoneInfo("UTC")
    before = {"status": "scheduled"}
    record_meeting(
        actor,
        "meeting.cancel",
        "取消会议",
        meeting,
        zone,
        now=now,
        before=before,
        after={"status": "cancelled"},
    )
    return meeting


@dataclass(frozen=True)
class Scheduled:
    """A meeting scheduled from a message, with how its words were understood."""

    meeting: Meeting
    group: PartyGroup | None
    understood: str  # the time as understood, e.g. 12月3日（周四）15:00-16:30
    place: str
    title: str
    expected: int  # how many are expected to attend


def schedule_from_text(
    actor: Member, kind: str, text: str, *, now: datetime, settings: Settings
) -> Scheduled:
    """Schedule a meeting of the actor's branch from the words after its kind (会议 in the
    bot): a party group's name first for a group meeting, then the time, the place and the
    title."""
    branch = Branch.get_by_id(actor.branch_id)
    group = None
    if kind == "group":
        group, text = _group_named(actor, branch, text)
    tz = ZoneInfo(settings.app.timezone)
    try:
        when = parse_when(
            text,
            now=now,
            tz=tz,
            default_minutes=settings.meetings.default_duration_minutes,
        )
    except DateTextError as exc:
        raise DomainError(exc.message) from None
    words = when.rest.split()
    place = words[0] if words else ""
    title = " ".join(words[1:])
    meeting = create_meeting(
        actor,
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
    expected = MeetingAttendee.select().where(MeetingAttendee.meeting == meeting.id).count()
    return Scheduled(meeting, group, when.understood, place, title, expected)


def _group_named(actor: Member, branch: Branch, text: str) -> tuple[PartyGroup, str]:
    """The party group named by the first word (else the actor's own) and the words after."""
    group = None
    words = text.split()
    if words:
        group = PartyGroup.get_or_none(
            (PartyGroup.branch == branch.id) & (PartyGroup.name == words[0])
        )
        if group is not None:
            text = text[len(words[0]) :].strip()
    if group is None:
        group = actor.party_group
    if group is None:
        names = "、".join(
            g.name for g in PartyGroup.select().where(PartyGroup.branch == branch.id)
        )
        raise DomainError(
            "党小组会请写明党小组，例如：会议 党小组会 第一党小组 12月3日 15:00 地点 主题"
            + (f"\n本支部的党小组：{names}" if names else "\n本支部还没有党小组。")
        )
    return group, text
