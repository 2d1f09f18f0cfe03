"""WeChat accounts: mini-program login, binding to a roster member, per-minute rate limits.

The WeChat code exchange is handed in by the caller (the API maps WeChat's refusals to its
own errors); signing tokens stays with the API too: a use case here records the session row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from core.config import Settings
from handlers.binding import BindOutcome, bind, failures_in_last_hour, member_for_openid
from handlers.errors import Conflict, Invalid, TooMany
from handlers.meetings import resume_scan
from models.api import ApiSession
from models.base import write_tx
from models.org import Member
from models.wechat import RateEvent


class WxAccount(Protocol):
    """What a code exchange answers: the account's openid (session_key is never kept)."""

    openid: str


@dataclass(frozen=True)
class Login:
    session: ApiSession
    member: Member | None  # the roster member the account is bound to, with the branch


def rate_limit(
    bucket: str, per_minute: int, now: datetime, *, window: timedelta = timedelta(minutes=1)
) -> None:
    """Count one event in ``bucket``; refuse (429) when the last minute (or ``window``)
    already holds the limit."""
    with write_tx():
        recent = (
            RateEvent.select()
            .where(RateEvent.bucket == bucket, RateEvent.at > now - window)
            .count()
        )
        if recent >= per_minute:
            raise TooMany("操作过于频繁，请稍后再试", errcode="rate_limited")
        RateEvent.create(bucket=bucket, at=now)


def login(
    code: str,
    *,
    exchange: Callable[[str], WxAccount],
    address: str,
    settings: Settings,
    now: datetime,
) -> Login:
    """Exchange a wx.login code and record a session for the account.

    The address is counted before the (single-use) code is spent, the account after it.
    """
    per_minute = settings.api.login_rate_per_minute
    rate_limit(f"api-login:ip:{address}", per_minute, now)
    wx = exchange(code)
    rate_limit(f"api-login:openid:{wx.openid}", per_minute, now)
    member = member_for_openid(wx.openid)
    ttl = settings.api.session_ttl_seconds
    with write_tx():
        row = ApiSession.create(
            openid=wx.openid,
            member=member.id if member else None,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    return Login(row, member)


def session_by_token_id(token_id: str) -> ApiSession | None:
    """The session recorded under this token id (revoked and expired ones too), or None."""
    return ApiSession.get_or_none(ApiSession.token_id == token_id)


def bind_account(openid: str, code: str, *, settings: Settings, now: datetime) -> Member:
    """Bind the mini-program account with a secretary's one-time code; its sessions follow.

    An account bound already is refused (409), as is one past the hourly allowance of wrong
    codes (429); a wrong code is counted and refused (400).
    """
    current = member_for_openid(openid)
    if current is not None:
        raise Conflict(
            f"您的微信已绑定为 {current.name}（{current.branch.name}），无需重复绑定。",
            errcode="already_bound",
        )
    max_failures = settings.binding.max_failures_per_hour
    if failures_in_last_hour(openid, now) >= max_failures:
        raise TooMany(
            "绑定码错误次数过多，请 1 小时后再试，或联系支部书记确认绑定码。",
            errcode="rate_limited",
        )
    with write_tx():
        outcome = bind(
            openid,
            code,
            secret_key=settings.app.secret_key,
            now=now,
            max_failures=max_failures,
            app="mini",
        )
        if outcome.member is not None:
            ApiSession.update(member=outcome.member.id).where(
                ApiSession.openid == openid, ApiSession.revoked_at.is_null()
            ).execute()
    if outcome.member is None:
        raise Invalid(outcome.message, errcode="bind_code_invalid")
    return outcome.member


@dataclass(frozen=True)
class ChatBinding:
    outcome: BindOutcome
    signed: str  # what became of a meeting code scanned before binding ("" if none)


def bind_in_chat(
    openid: str, code: str, *, app: str, settings: Settings, now: datetime
) -> ChatBinding:
    """Bind an official-account (or WeCom) account with a one-time code, then sign the newcomer
    in to the meeting they scanned before binding, if any."""
    outcome = bind(
        openid,
        code,
        secret_key=settings.app.secret_key,
        now=now,
        max_failures=settings.binding.max_failures_per_hour,
        app=app,
    )
    if outcome.member is None:
        return ChatBinding(outcome, "")
    return ChatBinding(outcome, resume_scan(outcome.member, openid, now=now, settings=settings))
