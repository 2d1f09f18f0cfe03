"""Mini-program login: code2session, signed revocable tokens, per-minute rate limits.

No Flask request handling here beyond reading the app's settings: the views in api/v1.py
call these functions. session_key from WeChat is dropped the moment it arrives: it is never
stored, returned or logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from api.errors import ApiError
from bot.clients import REQUEST_TIMEOUT
from handlers.sessions import revoke_member_sessions  # noqa: F401 - re-exported
from models.api import TOKEN_ID_CHARS, ApiSession
from models.base import write_tx
from models.org import Member
from models.wechat import RateEvent

log = logging.getLogger(__name__)

TOKEN_SALT = "zhibu.api.session"  # noqa: S105 - a namespace, not a secret
JSCODE2SESSION = "/sns/jscode2session"
_TOKEN_ID = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_ID_CHARS}}}")  # secrets.token_urlsafe

# jscode2session errcodes → (HTTP status, stable errcode, message for the member).
CODE_ERRORS: dict[int, tuple[int, str, str]] = {
    40029: (400, "login_code_invalid", "登录码无效或已使用，请重新进入小程序"),
    40163: (400, "login_code_invalid", "登录码无效或已使用，请重新进入小程序"),
    45011: (429, "rate_limited", "登录过于频繁，请稍后再试"),
    40226: (403, "wechat_risky_user", "微信提示该账号存在安全风险，暂时无法登录"),
}
WECHAT_UNAVAILABLE = (502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试")


@dataclass(frozen=True)
class WxSession:
    """What code2session told us, without the session_key."""

    openid: str
    unionid: str | None


def code_to_session(settings: Mapping[str, Mapping[str, Any]], code: str) -> WxSession:
    """Exchange a wx.login code for the openid (the code is single use), or raise ApiError.

    wechatpy's ``client.wxa.code_to_session`` fetches an access token first, which this
    endpoint does not need (WECHAT.md §4); the call goes straight to the configured API root.
    """
    wechat = settings["wechat"]
    url = wechat["api_base_url"].rstrip("/") + JSCODE2SESSION
    params = {
        "appid": wechat["app_id"],
        "secret": wechat["app_secret"],
        "js_code": code,
        "grant_type": "authorization_code",
    }
    try:
        res = requests.get(url, params=params, timeout=REQUEST_TIMEOUT)
        answer = res.json() if res.status_code < 400 else None
    except (requests.RequestException, ValueError) as exc:
        log.warning("jscode2session failed: %s", type(exc).__name__)
        raise ApiError(*WECHAT_UNAVAILABLE) from None
    if not isinstance(answer, dict):
        log.warning("jscode2session answered HTTP %s without a JSON object", res.status_code)
        raise ApiError(*WECHAT_UNAVAILABLE)
    try:
        errcode = int(answer.get("errcode") or 0)
    except (TypeError, ValueError):
        errcode = -1
    if errcode:
        log.info("jscode2session refused the code: errcode %s", errcode)
        raise ApiError(*CODE_ERRORS.get(errcode, WECHAT_UNAVAILABLE))
    openid, unionid = answer.get("openid"), answer.get("unionid")
    if not isinstance(openid, str) or not 0 < len(openid) <= 64:
        log.warning("jscode2session answered without a usable openid")
        raise ApiError(*WECHAT_UNAVAILABLE)
    if not isinstance(unionid, str) or not 0 < len(unionid) <= 64:
        unionid = None
    return WxSession(openid, unionid)


def rate_limit(bucket: str, per_minute: int, now: datetime) -> None:
    """Count one event in ``bucket``; raise 429 when the last minute already holds the limit."""
    with write_tx():
        recent = (
            RateEvent.select()
            .where(RateEvent.bucket == bucket, RateEvent.at > now - timedelta(minutes=1))
            .count()
        )
        if recent >= per_minute:
            raise ApiError(429, "rate_limited", "操作过于频繁，请稍后再试")
        RateEvent.create(bucket=bucket, at=now)


def _serializer(settings: Mapping[str, Mapping[str, Any]]) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings["app"]["secret_key"], salt=TOKEN_SALT)


def mini_member(openid: str) -> Member | None:
    """Return the member bound to this mini-program account (with the branch), or None."""
    from handlers.binding import member_for_openid

    return member_for_openid(openid)


def start_session(
    settings: Mapping[str, Mapping[str, Any]], wx: WxSession, now: datetime
) -> tuple[str, ApiSession]:
    """Record a new session for the account and return its signed token."""
    member = mini_member(wx.openid)
    ttl = settings["api"]["session_ttl_seconds"]
    with write_tx():
        row = ApiSession.create(
            openid=wx.openid,
            member=member.id if member else None,
            issued_at=now,
            expires_at=now + timedelta(seconds=ttl),
        )
    token = _serializer(settings).dumps({"sid": row.token_id})
    return token, row


def _token_id(data: Any) -> str | None:
    """The session's random id from a token's payload, or None if the payload is not ours."""
    sid = data.get("sid") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) and _TOKEN_ID.fullmatch(sid) else None


def check_token(
    settings: Mapping[str, Mapping[str, Any]], token: str, now: datetime
) -> ApiSession:
    """Return the live session behind a bearer token, or raise 401 saying why not."""
    ttl = settings["api"]["session_ttl_seconds"]
    try:
        data = _serializer(settings).loads(token, max_age=ttl)
    except SignatureExpired:
        raise ApiError(401, "token_expired", "登录已过期，请重新进入小程序") from None
    except BadData:  # a bad signature, or a payload that does not decode
        raise ApiError(401, "token_invalid", "登录凭证无效，请重新进入小程序") from None
    sid = _token_id(data)
    row = ApiSession.get_or_none(ApiSession.token_id == sid) if sid else None
    if row is None:
        raise ApiError(401, "token_invalid", "登录凭证无效，请重新进入小程序")
    if row.revoked_at is not None:
        raise ApiError(401, "token_revoked", "登录已失效，请重新进入小程序")
    if row.expires_at <= now:
        raise ApiError(401, "token_expired", "登录已过期，请重新进入小程序")
    return row
