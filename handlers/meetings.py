"""Meetings: schedule, sign in (code, QR scan, by hand), leave, attendance and quorum."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN, Case, Expression, IntegrityError, Select, fn

from core.clock import local_day
from handlers.errors import DomainError
from models.base import db, write_tx
from models.meetings import KINDS, QUORUM_KINDS, Attendance, Meeting, MeetingAttendee
from models.org import BRANCH_MANAGERS, PARTY_MEMBER_STATUSES, Branch, Member, PartyGroup, acts_for
from models.wechat import RateEvent, SharedValue

log = logging.getLogger(__name__)

# Roles that make someone a member of the branch committee (支委).
COMMITTEE_ROLES = ("secretary", "deputy_secretary", "organizer", "propaganda", "discipline")
SCENE_PREFIX = "mtg_"
WEEKDAYS = "一二三四五六日"


Settings = dict[str, dict[str, Any]]
# (scene, expire_seconds) -> the made code, with .ticket, .url and .expires_at
QrMaker = Callable[[str, int], Any]


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
            raise DomainError(
                f"您只能管理本支部的会议，{branch.name}的会议请由该支部书记安排。",
                errcode="forbidden",
                status=403,
            )
        raise DomainError(
            "只有支部书记、副书记或组织委员可以安排会议和签到。", errcode="forbidden", status=403
        )


# ---- scheduling -----------------------------------------------------------------------------


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


def signin_window(meeting: Meeting, settings: Settings) -> tuple[datetime, datetime]:
    """Return when sign-in opens and closes for this meeting."""
    cfg = settings["meetings"]
    opens = meeting.starts_at - timedelta(minutes=cfg["signin_open_before_minutes"])
    closes = meeting.starts_at + timedelta(minutes=cfg["signin_close_after_start_minutes"])
    return opens, closes


def _window(start: datetime, settings: Settings) -> tuple[datetime, datetime]:
    cfg = settings["meetings"]
    return (
        start - timedelta(minutes=cfg["signin_open_before_minutes"]),
        start + timedelta(minutes=cfg["signin_close_after_start_minutes"]),
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
    span = settings["meetings"]
    before = timedelta(minutes=span["signin_open_before_minutes"])
    after = timedelta(minutes=span["signin_close_after_start_minutes"])
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
    tz = ZoneInfo(settings["app"]["timezone"])
    if kind not in KINDS:
        raise DomainError(
            "会议类型不对，可选：" + "、".join(KINDS.values()), errcode="invalid_kind"
        )
    if branch is None:
        if actor is None:
            raise DomainError("请指定支部。")
        branch = Branch.get_by_id(actor.branch_id)
    require_manager(actor, branch)
    if group is not None and group.branch_id != branch.id:
        raise DomainError(
            f"党小组“{group.name}”不属于{branch.name}。", errcode="group_not_in_branch"
        )
    if end is None:
        end = start + timedelta(minutes=settings["meetings"]["default_duration_minutes"])
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
    log.info("meeting %s (%s) scheduled for branch %s", meeting.id, kind, branch.id)
    return meeting


def find_meeting(meeting_id: int) -> Meeting | None:
    """The meeting with this id (its branch loaded), whoever may see it; None if there is none."""
    return Meeting.select(Meeting, Branch).join(Branch).where(Meeting.id == meeting_id).first()


def get_meeting(actor: Member | None, meeting_id: int) -> Meeting:
    """Return a meeting the actor may manage, or explain why not."""
    meeting = find_meeting(meeting_id)
    if meeting is None:
        raise DomainError(
            f"没有编号为 {meeting_id} 的会议，请发送“会议”查看会议列表。",
            errcode="not_found",
            status=404,
        )
    require_manager(actor, meeting.branch)
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
    tz = ZoneInfo(settings["app"]["timezone"])
    meeting = get_meeting(actor, meeting_id)
    if meeting.status != "scheduled":
        raise DomainError(
            f"{describe(meeting, tz)} 已取消，不能修改。", errcode="meeting_cancelled"
        )
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
            if len(value) > MINUTES_MAX_CHARS:
                raise DomainError(
                    f"内容最多 {MINUTES_MAX_CHARS} 字，本次 {len(value)} 字，未保存。",
                    errcode="too_long",
                )
            setattr(meeting, name, value.strip())
    meeting.updated_at = now
    meeting.save()
    return meeting


MINUTES_MAX_CHARS = 5000


def _branch_member(branch: Branch, name: str, what: str) -> Member:
    """The one member of the branch with this name, or a refusal naming the problem."""
    name = name.strip()
    found = list(Member.select().where(Member.branch == branch.id, Member.name == name))
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


def cancel_meeting(actor: Member | None, meeting_id: int, *, now: datetime) -> Meeting:
    """Cancel a meeting; attendance already recorded stays for the record."""
    meeting = get_meeting(actor, meeting_id)
    if meeting.status == "cancelled":
        raise DomainError(f"编号 {meeting_id} 的会议已经取消过了。", errcode="meeting_cancelled")
    meeting.status = "cancelled"
    meeting.updated_at = now
    meeting.save(only=[Meeting.status, Meeting.updated_at])
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


# ---- sign-in --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    meeting: Meeting
    attendance: Attendance
    created: bool  # False: the member had already signed in


def current_meeting(
    actor: Member, meeting_id: int | None, now: datetime, settings: Settings
) -> Meeting:
    """The named meeting, or the actor's branch meeting whose sign-in window is open or next."""
    tz = ZoneInfo(settings["app"]["timezone"])
    if meeting_id is not None:
        return get_meeting(actor, meeting_id)
    branch = Branch.get_by_id(actor.branch_id)
    require_manager(actor, branch)
    for meeting in upcoming(branch.id, now - timedelta(days=1), limit=20):
        opens, closes = signin_window(meeting, settings)
        if opens <= now <= closes:
            return meeting
    soon = upcoming(branch.id, now, limit=3)
    if soon:
        listing = "\n".join(describe(m, tz) for m in soon)
        raise DomainError(
            "现在没有正在签到时段内的会议。即将召开：\n"
            + listing
            + "\n签到时段内发送“开始签到”，或发送“开始签到 编号”。"
        )
    raise DomainError(
        "本支部近期没有安排会议。先发送“会议 党课 12月3日 15:00 地点 主题”安排会议。"
    )


def open_signin(
    actor: Member, meeting_id: int | None, *, now: datetime, settings: Settings
) -> Meeting:
    """Give the meeting a sign-in code, usable only inside its window."""
    tz = ZoneInfo(settings["app"]["timezone"])
    meeting = current_meeting(actor, meeting_id, now, settings)
    if meeting.status != "scheduled":
        raise DomainError(
            f"{describe(meeting, tz)} 已取消，不能签到。", errcode="meeting_cancelled"
        )
    opens, closes = signin_window(meeting, settings)
    if not opens <= now <= closes:
        raise DomainError(
            f"{describe(meeting, tz)}\n签到时段为 {day_hm(opens, tz)} 至 {hm(closes, tz)}，"
            "现在不在签到时段内。",
            errcode="signin_not_open" if now < opens else "signin_closed",
        )
    if not meeting.signin_code:
        length = settings["meetings"]["signin_code_length"]
        meeting.signin_code = "".join(secrets.choice("0123456789") for _ in range(length))
        meeting.save(only=[Meeting.signin_code])
    return meeting


def _in_window(meeting: Meeting, now: datetime, settings: Settings) -> bool:
    opens, closes = signin_window(meeting, settings)
    return opens <= now <= closes


def _record_present(
    meeting: Meeting, member: Member, *, method: str, now: datetime, by: Member | None = None
) -> SignIn:
    """Write one present record; a leave request turns into presence; twice is once."""
    row = Attendance.get_or_none(
        (Attendance.meeting == meeting.id) & (Attendance.member == member.id)
    )
    if row is not None:
        if row.status == "present":
            return SignIn(meeting, row, created=False)
        row.status, row.method, row.at = "present", method, now
        row.recorded_by = by.id if by else None
        row.save()
        return SignIn(meeting, row, created=True)
    try:
        with db.atomic():
            row = Attendance.create(
                meeting=meeting.id,
                member=member.id,
                status="present",
                method=method,
                recorded_by=by.id if by else None,
                at=now,
            )
        return SignIn(meeting, row, created=True)
    except IntegrityError:
        row = Attendance.get((Attendance.meeting == meeting.id) & (Attendance.member == member.id))
        return SignIn(meeting, row, created=False)


def _is_expected(meeting: Meeting, member: Member) -> bool:
    return (
        MeetingAttendee.select()
        .where(MeetingAttendee.meeting == meeting.id, MeetingAttendee.member == member.id)
        .exists()
    )


def _sign_in(
    meeting: Meeting, member: Member, method: str, now: datetime, settings: Settings
) -> SignIn:
    tz = ZoneInfo(settings["app"]["timezone"])
    if meeting.status != "scheduled":
        raise DomainError(
            f"{describe(meeting, tz)} 已取消，无需签到。", errcode="meeting_cancelled"
        )
    opens, closes = signin_window(meeting, settings)
    if now < opens:
        raise DomainError(
            f"{describe(meeting, tz)}\n签到尚未开始，{day_hm(opens, tz)} 起可以签到。",
            errcode="signin_not_open",
        )
    if now > closes:
        raise DomainError(
            f"{describe(meeting, tz)}\n签到已于 {hm(closes, tz)} 结束。"
            "如您参加了会议，请联系书记或组织委员补签。",
            errcode="signin_closed",
        )
    if not _is_expected(meeting, member):
        raise DomainError(
            f"{describe(meeting, tz)}\n您不在本次会议的参会范围内，无需签到。如有疑问请联系书记。",
            errcode="not_expected",
        )
    return _record_present(meeting, member, method=method, now=now)


def sign_in_by_code(member: Member, code: str, *, now: datetime, settings: Settings) -> SignIn:
    """Sign a member in with the code the secretary read out."""
    code = "".join(ch for ch in code if not ch.isspace())
    cfg = settings["meetings"]
    bucket = f"signin:{member.id}"
    wrong = (
        RateEvent.select()
        .where(RateEvent.bucket == bucket, RateEvent.at > now - timedelta(hours=1))
        .count()
    )
    if wrong >= cfg["max_wrong_codes_per_hour"]:
        raise DomainError(
            "签到码错误次数过多，请稍后再试，或请书记为您补签。",
            errcode="too_many_wrong_codes",
            status=429,
        )
    if not code.isdigit():
        raise DomainError("签到码是书记公布的数字，例如：签到 123456", errcode="wrong_code")
    # Codes are only unique among a branch's meetings at one time, so look for the member's.
    candidates = list(
        Meeting.select()
        .join(MeetingAttendee)
        .where(
            Meeting.signin_code == code,
            MeetingAttendee.member == member.id,
            Meeting.starts_at > now - timedelta(days=2),
            Meeting.starts_at < now + timedelta(days=2),
        )
        .order_by(Meeting.starts_at.desc())
    )
    if not candidates:
        # Another branch's code counts as wrong: it must not tell that such a meeting exists.
        other = (
            Meeting.select()
            .where(Meeting.signin_code == code, Meeting.branch == member.branch_id)
            .exists()
        )
        if not other:
            raise WrongSigninCode("签到码不正确，请核对书记公布的签到码后重发。")
        raise DomainError(
            "您不在这次会议的参会范围内，无需签到。如有疑问请联系书记。", errcode="not_expected"
        )
    inside = [m for m in candidates if _in_window(m, now, settings)]
    return _sign_in(inside[0] if inside else candidates[0], member, "code", now, settings)


class WrongSigninCode(DomainError):
    """A sign-in code that matches no meeting; the caller counts it (count_wrong_code)."""

    errcode = "wrong_code"


def count_wrong_code(member: Member, now: datetime) -> None:
    """Count a wrong sign-in code, outside the savepoint that the refusal rolled back."""
    RateEvent.create(bucket=f"signin:{member.id}", at=now)


def meeting_for_scene(scene: str) -> Meeting | None:
    return (
        Meeting.get_or_none(Meeting.qr_scene == scene) if scene.startswith(SCENE_PREFIX) else None
    )


def sign_in_by_scene(member: Member, scene: str, *, now: datetime, settings: Settings) -> SignIn:
    """Sign a member in from a scanned meeting QR code."""
    meeting = meeting_for_scene(scene)
    if meeting is None:
        raise DomainError(
            "这个二维码不是有效的会议签到码，请扫描书记出示的签到二维码。", errcode="qr_invalid"
        )
    if meeting.branch_id != member.branch_id:  # say nothing of another branch's meeting
        raise DomainError(
            "这个签到二维码不是您所在支部的会议，无需签到。如有疑问请联系书记。",
            errcode="not_expected",
        )
    return _sign_in(meeting, member, "qr", now, settings)


def meetings_needing_qr(
    now: datetime, settings: Settings, horizon_hours: int = 24
) -> list[Meeting]:
    """Scheduled meetings starting within the horizon whose sign-in QR code is not made yet."""
    close_after = timedelta(minutes=settings["meetings"]["signin_close_after_start_minutes"])
    return list(
        Meeting.select()
        .where(
            Meeting.status == "scheduled",
            Meeting.qr_ticket.is_null(),
            Meeting.starts_at > now - close_after,
            Meeting.starts_at < now + timedelta(hours=horizon_hours),
        )
        .order_by(Meeting.starts_at)
    )


def qr_lifetime(meeting: Meeting, now: datetime, settings: Settings) -> int:
    """Seconds the meeting's QR code must live: until sign-in closes, plus a margin."""
    _, closes = signin_window(meeting, settings)
    return max(60, int((closes - now).total_seconds()) + 600)


def attach_qr(meeting: Meeting, *, ticket: str, url: str, expires_at: datetime) -> None:
    """Store the QR code WeChat made for the meeting's scene."""
    Meeting.update(qr_ticket=ticket, qr_url=url, qr_expires_at=expires_at).where(
        Meeting.id == meeting.id
    ).execute()


def make_qr(meeting: Meeting, now: datetime, settings: Settings, create: QrMaker) -> None:
    """Have WeChat make the meeting's sign-in QR code (through `create`) and store it.

    `create(scene, expire_seconds)` is the WeChat adapter (bot.clients.create_meeting_qr),
    handed in by the caller; its errors reach the caller, and then nothing is stored.
    """
    made = create(meeting.qr_scene, qr_lifetime(meeting, now, settings))
    with write_tx():
        attach_qr(meeting, ticket=made.ticket, url=made.url, expires_at=made.expires_at)
    meeting.qr_ticket, meeting.qr_url = made.ticket, made.url
    meeting.qr_expires_at = made.expires_at


def remember_scan(openid: str, scene: str, *, now: datetime, settings: Settings) -> Meeting | None:
    """Keep an unbound newcomer's scan until they bind, if sign-in is still open."""
    meeting = meeting_for_scene(scene)
    if meeting is None or meeting.status != "scheduled":
        return None
    _, closes = signin_window(meeting, settings)
    if now > closes:
        return None
    key = f"pending_scan:{openid}"
    SharedValue.delete().where(SharedValue.key == key).execute()
    SharedValue.create(key=key, value=scene, expires_at=closes, updated_at=now)
    return meeting


def resume_scan(member: Member, openid: str, *, now: datetime, settings: Settings) -> str:
    """After binding, sign in the newcomer to the meeting they scanned; say what happened."""
    key = f"pending_scan:{openid}"
    pending = SharedValue.get_or_none(SharedValue.key == key)
    if pending is None:
        return ""
    SharedValue.delete().where(SharedValue.id == pending.id).execute()
    tz = ZoneInfo(settings["app"]["timezone"])
    try:
        with db.atomic():
            result = sign_in_by_scene(member, pending.value, now=now, settings=settings)
    except DomainError as exc:
        return "\n扫码签到未成功：" + exc.message
    return f"\n已为您完成签到：{describe(result.meeting, tz)}"


def mark_present(
    actor: Member, name: str, meeting_id: int | None, *, now: datetime, settings: Settings
) -> SignIn:
    """补签: the secretary records someone present by hand, with who did it."""
    tz = ZoneInfo(settings["app"]["timezone"])
    name = name.strip()
    if not name:
        raise DomainError("请写明补签人的姓名，例如：补签 张三（或：补签 张三 编号12）")
    if meeting_id is None:
        meeting = latest_started(actor, now, settings)
    else:
        meeting = get_meeting(actor, meeting_id)
    _check_markable(meeting, now, settings)
    matches = list(
        Member.select()
        .join(MeetingAttendee)
        .where(MeetingAttendee.meeting == meeting.id, Member.name == name)
    )
    if not matches:
        raise DomainError(
            f"{describe(meeting, tz)}\n参会名单中没有“{name}”，请核对姓名。",
            errcode="not_expected",
        )
    if len(matches) > 1:
        raise DomainError(
            f"参会名单中有 {len(matches)} 位“{name}”，请在控制台补签。", errcode="ambiguous_name"
        )
    return _record_present(meeting, matches[0], method="manual", now=now, by=actor)


def mark_present_members(
    actor: Member,
    meeting_id: int,
    member_ids: list[int],
    *,
    now: datetime,
    settings: Settings,
) -> list[SignIn]:
    """补签 by member id (the mini-program): all of them, or none if one is not expected."""
    tz = ZoneInfo(settings["app"]["timezone"])
    meeting = get_meeting(actor, meeting_id)
    _check_markable(meeting, now, settings)
    expected = {
        m.id: m
        for m in Member.select()
        .join(MeetingAttendee)
        .where(MeetingAttendee.meeting == meeting.id, Member.id.in_(member_ids))
    }
    missing = [str(i) for i in member_ids if i not in expected]
    if missing:
        raise DomainError(
            f"{describe(meeting, tz)}\n参会名单中没有编号为 {'、'.join(missing)} 的党员，"
            "本次未补签任何人，请核对。",
            errcode="not_expected",
        )
    return [
        _record_present(meeting, expected[i], method="manual", now=now, by=actor)
        for i in member_ids
    ]


def _check_markable(meeting: Meeting, now: datetime, settings: Settings) -> None:
    """补签 needs a meeting that is not cancelled and whose sign-in has opened."""
    tz = ZoneInfo(settings["app"]["timezone"])
    if meeting.status != "scheduled":
        raise DomainError(
            f"{describe(meeting, tz)} 已取消，无需补签。", errcode="meeting_cancelled"
        )
    opens, _ = signin_window(meeting, settings)
    if now < opens:
        raise DomainError(
            f"{describe(meeting, tz)}\n签到尚未开始，{day_hm(opens, tz)} 后才能补签。",
            errcode="signin_not_open",
        )


def latest_started(actor: Member, now: datetime, settings: Settings) -> Meeting:
    """The branch's meeting whose sign-in opened most recently (for 补签, 会议 情况)."""
    branch = Branch.get_by_id(actor.branch_id)
    require_manager(actor, branch)
    before = timedelta(minutes=settings["meetings"]["signin_open_before_minutes"])
    meeting = (
        Meeting.select()
        .where(
            Meeting.branch == branch.id,
            Meeting.status == "scheduled",
            Meeting.starts_at <= now + before,
        )
        .order_by(Meeting.starts_at.desc())
        .first()
    )
    if meeting is None:
        raise DomainError("本支部还没有开过会。请在指令后加会议编号，例如：会议 情况 12")
    return meeting


# ---- leave ----------------------------------------------------------------------------------


def ask_leave(
    member: Member, reason: str, meeting_id: int | None, *, now: datetime, settings: Settings
) -> Attendance:
    """Record a leave request for an upcoming meeting the member is expected at."""
    tz = ZoneInfo(settings["app"]["timezone"])
    reason = reason.strip()
    if not reason:
        raise DomainError("请写明请假原因，例如：请假 出差在外", errcode="reason_missing")
    if len(reason) > 200:
        raise DomainError("请假原因请控制在 200 字以内。", errcode="too_long")
    mine = list(
        Meeting.select()
        .join(MeetingAttendee)
        .where(
            MeetingAttendee.member == member.id,
            Meeting.status == "scheduled",
            Meeting.starts_at > now,
        )
        .order_by(Meeting.starts_at)
    )
    if meeting_id is not None:
        chosen = [m for m in mine if m.id == meeting_id]
        if not chosen:
            raise DomainError(
                f"编号 {meeting_id} 不是您即将参加的会议（会议开始后不能再请假）。",
                errcode=_leave_refusal(member, meeting_id),
            )
        meeting = chosen[0]
    elif not mine:
        raise DomainError(
            "您近期没有需要参加的会议，无需请假。会议开始后不能再请假。", errcode="leave_closed"
        )
    elif len(mine) > 1:
        listing = "\n".join(describe(m, tz) for m in mine[:5])
        raise DomainError(
            f"您近期有 {len(mine)} 个会议：\n{listing}\n请发送“请假 编号 原因”。",
            errcode="meeting_ambiguous",
        )
    else:
        meeting = mine[0]
    existing = Attendance.get_or_none(
        (Attendance.meeting == meeting.id) & (Attendance.member == member.id)
    )
    if existing is not None and existing.status == "present":
        raise DomainError("您已签到，无需请假。", errcode="already_signed_in")
    if existing is not None:
        existing.leave_reason, existing.leave_status, existing.at = reason, "pending", now
        existing.decided_by = None
        existing.save()
        return existing
    return Attendance.create(
        meeting=meeting.id,
        member=member.id,
        status="leave",
        leave_reason=reason,
        leave_status="pending",
        at=now,
    )


def _leave_refusal(member: Member, meeting_id: int) -> str:
    """The stable code of why a leave for this meeting was refused: cancelled, not expected,
    or (the rest) started already."""
    meeting = Meeting.get_or_none(Meeting.id == meeting_id)
    if meeting is None:
        return "not_found"
    if meeting.status != "scheduled":
        return "meeting_cancelled"
    if not _is_expected(meeting, member):
        return "not_expected"
    return "leave_closed"


# Leave requests listed when a name matches several pending ones.
LEAVE_LIST_MAX = 5


def decide_leave(
    actor: Member,
    name: str,
    approve: bool,
    meeting_id: int | None,
    *,
    now: datetime,
    settings: Settings,
) -> Attendance:
    """Approve or reject a member's pending leave request, named by the member's name.

    Only a pending request for a meeting that is still scheduled and has not ended can be
    decided: a decision stands once made, and an ended meeting's record is history (the
    six-month rule reads it). Without a meeting number the name must match exactly one such
    request in the actor's branch; when it matches several, the refusal lists their meetings
    and asks for the number.
    """
    tz = ZoneInfo(settings["app"]["timezone"])
    name = name.strip()
    verb = "批准请假" if approve else "驳回请假"
    if not name:
        raise DomainError(
            f"请写明请假人姓名，例如：{verb} 张三（有多个会议时：{verb} 张三 编号）",
            errcode="name_missing",
        )
    if meeting_id is not None:
        meeting: Meeting | None = get_meeting(actor, meeting_id)
        scope = Meeting.id == meeting_id
    else:
        meeting = None
        require_manager(actor, Branch.get_by_id(actor.branch_id))
        scope = Meeting.branch == actor.branch_id
    requests = (
        Attendance.select(Attendance, Meeting, Member)
        .join(Meeting)
        .switch(Attendance)
        .join(Member, on=Attendance.member == Member.id)
        .where(scope, Member.name == name, Attendance.leave_status != "")
    )
    pending = list(
        requests.where(
            Attendance.status == "leave",
            Attendance.leave_status == "pending",
            Meeting.status == "scheduled",
            Meeting.ends_at > now,
        ).order_by(Meeting.starts_at, Attendance.id)
    )
    if len(pending) == 1:
        return _decide(actor, pending[0], approve, now=now, tz=tz)
    if pending and meeting is not None:  # namesakes asking leave for the same meeting
        raise DomainError(
            f"{describe(meeting, tz)}\n有 {len(pending)} 位“{name}”的请假申请待审批，"
            "无法按姓名区分，请在小程序的请假列表中逐条审批。",
            errcode="ambiguous_name",
        )
    if pending:
        listing = "\n".join(
            f"{describe(row.meeting, tz)} 原因：{row.leave_reason}"
            for row in pending[:LEAVE_LIST_MAX]
        )
        more = f"\n……共 {len(pending)} 个" if len(pending) > LEAVE_LIST_MAX else ""
        raise DomainError(
            f"“{name}”有 {len(pending)} 个会议的请假待审批：\n{listing}{more}\n"
            f"请加上会议编号，例如：{verb} {name} {pending[0].meeting.id}",
            errcode="meeting_ambiguous",
        )
    latest = requests.order_by(Meeting.starts_at.desc(), Attendance.id.desc()).first()
    if latest is None:
        where = describe(meeting, tz) if meeting is not None else "本支部"
        raise DomainError(
            f"{where}没有找到“{name}”的请假申请。请核对姓名；"
            "发送“会议 情况 编号”可查看某次会议的请假情况。",
            errcode="not_found",
            status=404,
        )
    # Not pending, or its meeting is over: the refusal says which (it is never None here).
    raise _not_decidable(latest, now, tz) or DomainError(f"没有找到“{name}”待审批的请假申请。")


def leave_request(leave_id: int) -> Attendance | None:
    """A leave request by its id (its meeting and branch loaded), pending, decided, or since
    overtaken by a sign-in; None if the id names no leave request."""
    return (
        Attendance.select(Attendance, Meeting, Branch)
        .join(Meeting)
        .join(Branch)
        .where(Attendance.id == leave_id, Attendance.leave_status != "")
        .first()
    )


def decide_leave_by_id(
    actor: Member, leave_id: int, approve: bool, *, now: datetime, settings: Settings
) -> Attendance:
    """Approve or reject one leave request by its id (the mini-program), by decide_leave's
    rule: only a pending request of a meeting that has not ended."""
    row = leave_request(leave_id)
    if row is None:
        raise DomainError(f"没有编号为 {leave_id} 的请假申请。", errcode="not_found", status=404)
    return _decide(actor, row, approve, now=now, tz=ZoneInfo(settings["app"]["timezone"]))


def _not_decidable(row: Attendance, now: datetime, tz: ZoneInfo) -> DomainError | None:
    """Why the request cannot be decided (and what to do), or None: it is pending and its
    meeting is scheduled and has not ended."""
    meeting = row.meeting
    who = Member.get_by_id(row.member_id).name
    if row.status == "present":
        return DomainError(
            f"{who} 已签到，请假申请无需审批：{describe(meeting, tz)}",
            errcode="already_signed_in",
        )
    if row.leave_status != "pending":
        done = "已批准" if row.leave_status == "approved" else "已驳回"
        return DomainError(
            f"{who} 的请假{done}，不能再更改：{describe(meeting, tz)}\n"
            f"如情况有变，请{who}在会议开始前重新发送“请假 {meeting.id} 原因”，再行审批。",
            errcode="leave_decided",
            status=409,
        )
    if meeting.status != "scheduled":
        return DomainError(
            f"{describe(meeting, tz)} 已取消，{who} 的请假无需审批。",
            errcode="meeting_cancelled",
        )
    if meeting.ends_at <= now:
        return DomainError(
            f"{describe(meeting, tz)} 已于 {day_hm(meeting.ends_at, tz)} 结束，"
            f"会议结束后不能再审批请假，{who} 的出席记录保持不变。",
            errcode="meeting_ended",
        )
    return None


def _decide(
    actor: Member, row: Attendance, approve: bool, *, now: datetime, tz: ZoneInfo
) -> Attendance:
    require_manager(actor, Branch.get_by_id(row.meeting.branch_id))
    refusal = _not_decidable(row, now, tz)
    if refusal is not None:
        raise refusal
    status = "approved" if approve else "rejected"
    # Compare and set: of two managers deciding at once, one wins and the other is told.
    won = (
        Attendance.update(leave_status=status, decided_by=actor.id)
        .where(
            Attendance.id == row.id,
            Attendance.status == "leave",
            Attendance.leave_status == "pending",
        )
        .execute()
    )
    if not won:
        raise DomainError(
            "这条请假申请刚刚已被处理，请发送“会议 情况 编号”查看结果。",
            errcode="leave_decided",
            status=409,
        )
    row.leave_status, row.decided_by = status, actor.id
    return row


# ---- reports --------------------------------------------------------------------------------


@dataclass
class AttendanceReport:
    meeting: Meeting
    expected: list[Member]
    present: list[Member] = field(default_factory=list)
    leave_approved: list[tuple[Member, str]] = field(default_factory=list)
    leave_pending: list[tuple[Member, str]] = field(default_factory=list)
    leave_rejected: list[tuple[Member, str]] = field(default_factory=list)
    not_signed: list[Member] = field(default_factory=list)  # absent once the meeting ended
    ended: bool = False
    quorum_needed: int | None = None  # for general and committee meetings
    quorum_present: int = 0

    @property
    def rate(self) -> float:
        return len(self.present) / len(self.expected) if self.expected else 0.0

    @property
    def quorum_met(self) -> bool | None:
        return None if self.quorum_needed is None else self.quorum_present >= self.quorum_needed


# ---- quorum: one rule for the attendance report and the compliance calendar ----------------


def is_voter(kind: str, status: str) -> bool:
    """Whether an expected attendee counts towards the quorum of a general or committee
    meeting: every committee member at a committee meeting; at a general meeting the full
    members (probationary members have no vote)."""
    return kind == "committee" or status == "full"


def quorum_needed(voters: int) -> int:
    """Voting members present for a quorum: more than half (at least 1, even of none)."""
    return voters // 2 + 1


def quorum_tallies(meetings: Expression) -> Select:
    """Per meeting matching `meetings` (a condition on Meeting) with at least one voter on its
    list, as columns meeting_id, voters, present: its voting members (is_voter, in SQL) and
    how many of them were present. One grouped query over the expected attendees; a meeting
    has quorum when present >= quorum_needed(voters), in SQL present * 2 > voters."""
    voter = (Meeting.kind == "committee") | (Member.status == "full")
    return (
        MeetingAttendee.select(
            MeetingAttendee.meeting.alias("meeting_id"),
            fn.COUNT(MeetingAttendee.id).alias("voters"),
            fn.SUM(Case(None, [(Attendance.status == "present", 1)], 0)).alias("present"),
        )
        .join(Meeting, on=MeetingAttendee.meeting == Meeting.id)
        .switch(MeetingAttendee)
        .join(Member, on=MeetingAttendee.member == Member.id)
        .switch(MeetingAttendee)
        .join(
            Attendance,
            JOIN.LEFT_OUTER,
            on=(Attendance.meeting == MeetingAttendee.meeting)
            & (Attendance.member == MeetingAttendee.member),
        )
        .where(meetings, Meeting.kind.in_(QUORUM_KINDS), voter)
        .group_by(MeetingAttendee.meeting)
    )


def attendance_report(meeting: Meeting, *, now: datetime) -> AttendanceReport:
    """Present / on leave / absent with names, the rate, and quorum where it applies."""
    expected = list(
        Member.select()
        .join(MeetingAttendee)
        .where(MeetingAttendee.meeting == meeting.id)
        .order_by(Member.id)
    )
    rows = {a.member_id: a for a in Attendance.select().where(Attendance.meeting == meeting.id)}
    report = AttendanceReport(meeting=meeting, expected=expected, ended=now >= meeting.ends_at)
    for member in expected:
        row = rows.get(member.id)
        if row is None:
            report.not_signed.append(member)
        elif row.status == "present":
            report.present.append(member)
        elif row.leave_status == "approved":
            report.leave_approved.append((member, row.leave_reason))
        elif row.leave_status == "rejected":
            report.leave_rejected.append((member, row.leave_reason))
            report.not_signed.append(member)
        else:
            report.leave_pending.append((member, row.leave_reason))
            report.not_signed.append(member)
    if meeting.kind in QUORUM_KINDS:
        voters = [m for m in expected if is_voter(meeting.kind, m.status)]
        report.quorum_needed = quorum_needed(len(voters))
        present_ids = {m.id for m in report.present}
        report.quorum_present = sum(1 for m in voters if m.id in present_ids)
    return report


def quarter_start(now: datetime, tz: ZoneInfo) -> datetime:
    """The first moment of the current quarter in the branch's zone."""
    today = local_day(now, tz)
    return datetime(today.year, 3 * ((today.month - 1) // 3) + 1, 1, tzinfo=tz)


def member_meetings(
    member: Member, *, now: datetime, tz: ZoneInfo
) -> tuple[list[Meeting], int, int]:
    """The member's upcoming meetings and, this quarter, meetings attended / meetings held."""
    q_start = quarter_start(now, tz)
    soon = list(
        Meeting.select()
        .join(MeetingAttendee)
        .where(
            MeetingAttendee.member == member.id,
            Meeting.status == "scheduled",
            Meeting.ends_at > now,
        )
        .order_by(Meeting.starts_at)
        .limit(3)
    )
    held = (
        Meeting.select(Meeting.id, Attendance.status)
        .join(MeetingAttendee)
        .switch(Meeting)
        .join(
            Attendance,
            JOIN.LEFT_OUTER,
            on=(Attendance.meeting == Meeting.id) & (Attendance.member == member.id),
        )
        .where(
            MeetingAttendee.member == member.id,
            Meeting.status == "scheduled",
            Meeting.starts_at >= q_start,
            Meeting.ends_at <= now,
        )
        .tuples()
    )
    rows = list(held)
    attended = sum(1 for _, status in rows if status == "present")
    return soon, attended, len(rows)
