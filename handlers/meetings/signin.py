"""Meetings: sign-in by code, by scanned QR scene and by hand (补签)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from peewee import IntegrityError

from handlers.errors import DomainError, TooMany
from handlers.meetings.base import (
    SCENE_PREFIX,
    Settings,
    day_hm,
    describe,
    get_meeting,
    hm,
    is_expected,
    require_manager,
    signin_window,
    upcoming,
)
from handlers.meetings.trail import record_meeting
from models.base import db, write_tx
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import Branch, Member
from models.wechat import RateEvent, SharedValue

T = TypeVar("T")


@dataclass(frozen=True)
class SignIn:
    meeting: Meeting
    attendance: Attendance
    created: bool  # False: the member had already signed in


def current_meeting(
    actor: Member, meeting_id: int | None, now: datetime, settings: Settings
) -> Meeting:
    """The named meeting, or the actor's branch meeting whose sign-in window is open or next."""
    tz = ZoneInfo(settings.app.timezone)
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
    tz = ZoneInfo(settings.app.timezone)
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
        length = settings.meetings.signin_code_length
        meeting.signin_code = "".join(secrets.choice("0123456789") for _ in range(length))
        meeting.save(only=[Meeting.signin_code])
        # The code itself stays out of the log: it is what members sign in with.
        record_meeting(actor, "meeting.signin_open", "开启签到", meeting, tz, now=now)
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


def _sign_in(
    meeting: Meeting, member: Member, method: str, now: datetime, settings: Settings
) -> SignIn:
    tz = ZoneInfo(settings.app.timezone)
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
    if not is_expected(meeting, member):
        raise DomainError(
            f"{describe(meeting, tz)}\n您不在本次会议的参会范围内，无需签到。如有疑问请联系书记。",
            errcode="not_expected",
        )
    return _record_present(meeting, member, method=method, now=now)


def sign_in_by_code(member: Member, code: str, *, now: datetime, settings: Settings) -> SignIn:
    """Sign a member in with the code the secretary read out."""
    code = "".join(ch for ch in code if not ch.isspace())
    cfg = settings.meetings
    bucket = f"signin:{member.id}"
    wrong = (
        RateEvent.select()
        .where(RateEvent.bucket == bucket, RateEvent.at > now - timedelta(hours=1))
        .count()
    )
    if wrong >= cfg.max_wrong_codes_per_hour:
        raise TooMany(
            "签到码错误次数过多，请稍后再试，或请书记为您补签。",
            errcode="too_many_wrong_codes",
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


def counting_wrong_codes(member: Member, now: datetime, attempt: Callable[[], T]) -> T:
    """Run a sign-in attempt in its own write transaction; a wrong code (WrongSigninCode) is
    counted in another one, since its refusal rolled the first back, and raised again."""
    try:
        with write_tx():
            return attempt()
    except WrongSigninCode:
        with write_tx():
            count_wrong_code(member, now)
        raise


def sign_in_with_code(member: Member, code: str, *, now: datetime, settings: Settings) -> SignIn:
    """Sign in with the code read out, a wrong code counted (the bot's 签到)."""
    return counting_wrong_codes(
        member, now, lambda: sign_in_by_code(member, code, now=now, settings=settings)
    )


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
    tz = ZoneInfo(settings.app.timezone)
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
    tz = ZoneInfo(settings.app.timezone)
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
    result = _record_present(meeting, matches[0], method="manual", now=now, by=actor)
    _record_marked(actor, meeting, [result], [matches[0]], now, tz)
    return result


def mark_present_members(
    actor: Member,
    meeting_id: int,
    member_ids: list[int],
    *,
    now: datetime,
    settings: Settings,
) -> list[SignIn]:
    """补签 by member id (the mini-program): all of them, or none if one is not expected."""
    tz = ZoneInfo(settings.app.timezone)
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
    results = [
        _record_present(meeting, expected[i], method="manual", now=now, by=actor)
        for i in member_ids
    ]
    _record_marked(actor, meeting, results, [expected[i] for i in member_ids], now, tz)
    return results


def _record_marked(
    actor: Member,
    meeting: Meeting,
    results: list[SignIn],
    members: list[Member],
    now: datetime,
    tz: ZoneInfo,
) -> None:
    """Record a 补签 that changed someone's attendance (members already present are not)."""
    done = [m for r, m in zip(results, members, strict=True) if r.created]
    if not done:
        return
    names = "、".join(m.name for m in done)
    record_meeting(
        actor,
        "meeting.mark_present",
        f"补签 {names}",
        meeting,
        tz,
        now=now,
        after={"present": [{"id": m.id, "name": m.name} for m in done]},
    )


def _check_markable(meeting: Meeting, now: datetime, settings: Settings) -> None:
    """补签 needs a meeting that is not cancelled and whose sign-in has opened."""
    tz = ZoneInfo(settings.app.timezone)
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
    before = timedelta(minutes=settings.meetings.signin_open_before_minutes)
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
