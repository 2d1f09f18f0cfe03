"""Who may use the web console, and how a browser gets in: no passwords.

A manager sends 控制台 to the bot and gets a one-time link (valid a few minutes); or a PC shows
a QR code that the manager scans in the Official Account. Either way the browser gets a session
that ends on logout, after idling, at its absolute limit, or when the member is unbound.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.config import Settings
from handlers.errors import Forbidden, Invalid
from handlers.sessions import end_console_sessions as end_member_sessions
from models.base import write_tx
from models.console import ConsoleLogin, ConsoleSession
from models.org import Branch, Member

log = logging.getLogger(__name__)

# Roles that open the console: the branch committee's and the committee admin.
CONSOLE_ROLES = (
    "secretary",
    "deputy_secretary",
    "organizer",
    "propaganda",
    "dues_collector",
    "committee_admin",
)
QR_SCENE_PREFIX = "console_"
NO_CONSOLE = "控制台仅供支部书记、支部委员、党费收缴员和党委管理员使用。"
LINK_USED = "这个登录链接已经用过或已失效。请在公众号重新发送“控制台”获取新的链接。"
LINK_EXPIRED = (
    "这个登录链接已过期（有效 {minutes} 分钟）。请在公众号重新发送“控制台”获取新的链接。"
)
# Session ids are not refreshed more often than this (one write per browser a minute at most).
SEEN_EVERY = timedelta(minutes=1)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def may_use_console(member: Member) -> bool:
    """Whether the member holds a role that opens the console."""
    return member.has_role(*CONSOLE_ROLES)


@dataclass(frozen=True)
class LoginLink:
    token: str  # the secret in the link; shown once
    expires_at: datetime


def issue_login_link(
    member: Member, *, settings: Settings, now: datetime, minutes: int | None = None
) -> LoginLink:
    """A one-time login link for a manager (控制台 in the bot), valid console.login_minutes
    (or ``minutes``)."""
    if not may_use_console(member):
        raise Forbidden(NO_CONSOLE)
    token = secrets.token_urlsafe(24)
    expires = now + timedelta(minutes=minutes or settings.console.login_minutes)
    with write_tx():
        ConsoleLogin.create(
            kind="link",
            token_hash=_hash(token),
            member=member.id,
            created_at=now,
            expires_at=expires,
            approved_at=now,
        )
    log.info("console login link issued to member id=%s", member.id)
    return LoginLink(token, expires)


@dataclass(frozen=True)
class StartedSession:
    sid: str  # the secret kept in the browser's signed cookie
    member: Member


def _open_session(member: Member, settings: Settings, now: datetime) -> StartedSession:
    """Start a browser session for the member (inside the caller's transaction)."""
    sid = secrets.token_urlsafe(32)
    ConsoleSession.create(
        sid_hash=_hash(sid),
        member=member.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.console.session_hours),
    )
    return StartedSession(sid, member)


def redeem_login_link(token: str, *, settings: Settings, now: datetime) -> StartedSession:
    """Use a login link once: start a session for its member, or refuse saying why."""
    with write_tx():
        login = ConsoleLogin.get_or_none(
            ConsoleLogin.token_hash == _hash(token), ConsoleLogin.kind == "link"
        )
        if login is None or login.used_at is not None:
            raise Invalid(LINK_USED, errcode="login_used")
        if login.expires_at <= now:
            raise Invalid(LINK_EXPIRED.format(minutes=settings.console.login_minutes))
        member = Member.get_or_none(Member.id == login.member_id)
        if member is None or not may_use_console(member):
            raise Forbidden(NO_CONSOLE)
        done = (
            ConsoleLogin.update(used_at=now)
            .where(ConsoleLogin.id == login.id, ConsoleLogin.used_at.is_null())
            .execute()
        )
        if done != 1:  # another browser used it at the same moment
            raise Invalid(LINK_USED, errcode="login_used")
        started = _open_session(member, settings, now)
    log.info("console session started by link for member id=%s", member.id)
    return started


# ---- QR login ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QrLogin:
    scene: str  # what the QR code carries
    browser_key: str  # kept in the browser's cookie; proves it is the browser that asked
    expires_at: datetime


def start_qr_login(*, settings: Settings, now: datetime) -> QrLogin:
    """A QR login for a browser: the scene its code carries and the key the browser keeps."""
    scene = QR_SCENE_PREFIX + secrets.token_urlsafe(18)
    key = secrets.token_urlsafe(24)
    expires = now + timedelta(minutes=settings.console.login_minutes)
    with write_tx():
        ConsoleLogin.create(
            kind="qr", token_hash=_hash(key), scene=scene, created_at=now, expires_at=expires
        )
    return QrLogin(scene, key, expires)


def approve_qr_login(member: Member, scene: str, *, now: datetime) -> str:
    """A manager scanned a console QR code in the Official Account: approve that browser.

    Returns the reply for the chat.
    """
    if not may_use_console(member):
        raise Forbidden(NO_CONSOLE)
    with write_tx():
        done = (
            ConsoleLogin.update(member=member.id, approved_at=now)
            .where(
                ConsoleLogin.scene == scene,
                ConsoleLogin.kind == "qr",
                ConsoleLogin.approved_at.is_null(),
                ConsoleLogin.expires_at > now,
            )
            .execute()
        )
    if done != 1:
        return "这个控制台登录二维码已失效，请在电脑上刷新登录页面后重新扫码。"
    log.info("console QR login approved by member id=%s", member.id)
    return "已确认登录控制台，请回到电脑上继续操作。如果不是您本人在登录，请立即发送“退出控制台”。"


def finish_qr_login(
    browser_key: str, *, settings: Settings, now: datetime
) -> StartedSession | None:
    """The browser's poll: a session once its QR code was scanned and approved, else None.

    An expired or already used QR login refuses, so the page can offer a new code.
    """
    login = ConsoleLogin.get_or_none(
        ConsoleLogin.token_hash == _hash(browser_key), ConsoleLogin.kind == "qr"
    )
    if login is None or login.used_at is not None:
        raise Invalid("二维码已失效，请刷新页面获取新的二维码。", errcode="login_used")
    if login.approved_at is None:
        if login.expires_at <= now:
            raise Invalid("二维码已过期，请刷新页面获取新的二维码。", errcode="login_expired")
        return None
    with write_tx():
        done = (
            ConsoleLogin.update(used_at=now)
            .where(ConsoleLogin.id == login.id, ConsoleLogin.used_at.is_null())
            .execute()
        )
        if done != 1:
            raise Invalid("二维码已失效，请刷新页面获取新的二维码。", errcode="login_used")
        member = Member.get_by_id(login.member_id)
        started = _open_session(member, settings, now)
    log.info("console session started by QR for member id=%s", member.id)
    return started


# ---- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleUser:
    member: Member
    branch: Branch
    is_committee_admin: bool


def session_user(sid: str, *, settings: Settings, now: datetime) -> ConsoleUser | None:
    """The manager behind a browser's session id, or None when it has ended (and why is kept).

    A session idle longer than console.idle_minutes, past its absolute limit, or whose member
    no longer holds a console role ends here.
    """
    session = ConsoleSession.get_or_none(
        ConsoleSession.sid_hash == _hash(sid), ConsoleSession.ended_at.is_null()
    )
    if session is None:
        return None
    idle = timedelta(minutes=settings.console.idle_minutes)
    reason = ""
    if session.expires_at <= now:
        reason = "expired"
    elif session.last_seen_at + idle <= now:
        reason = "idle"
    member = Member.get_or_none(Member.id == session.member_id)
    if not reason and (member is None or not may_use_console(member)):
        reason = "role"
    if reason:
        _end(session.id, now, reason)
        return None
    if now - session.last_seen_at >= SEEN_EVERY:
        with write_tx():
            ConsoleSession.update(last_seen_at=now).where(
                ConsoleSession.id == session.id
            ).execute()
    assert member is not None
    return ConsoleUser(member, member.branch, member.has_role("committee_admin"))


def _end(session_id: int, now: datetime, reason: str) -> None:
    with write_tx():
        ConsoleSession.update(ended_at=now, end_reason=reason).where(
            ConsoleSession.id == session_id, ConsoleSession.ended_at.is_null()
        ).execute()


def end_session(sid: str, *, now: datetime) -> None:
    """Log a browser out."""
    with write_tx():
        ConsoleSession.update(ended_at=now, end_reason="logout").where(
            ConsoleSession.sid_hash == _hash(sid), ConsoleSession.ended_at.is_null()
        ).execute()


def log_out_everywhere(member: Member, *, now: datetime) -> int:
    """End every console session of the member (退出控制台); return how many."""
    with write_tx():
        return end_member_sessions(member.id, now, "logout")
