"""Mini-program login: code2session, signed revocable tokens, per-minute rate limits.

No Flask request handling here beyond reading the app's settings: the views in api/v1.py
call these functions; the sessions and rate events themselves are handlers.accounts'.
session_key from WeChat is dropped the moment it arrives: it is never stored, returned or
logged.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer

from api.errors import ApiError
from bot import clients
from bot.clients import WeChatApiError, WxSession
from core.config import Settings
from handlers.accounts import rate_limit, session_by_token_id  # noqa: F401 - rate_limit re-exported
from handlers.binding import member_for_openid
from handlers.sessions import revoke_member_sessions  # noqa: F401 - re-exported
from models.api import TOKEN_ID_CHARS, ApiSession
from models.org import Member

log = logging.getLogger(__name__)

TOKEN_SALT = "zhibu.api.session"  # noqa: S105 - a namespace, not a secret
_TOKEN_ID = re.compile(rf"[A-Za-z0-9_-]{{{TOKEN_ID_CHARS}}}")  # secrets.token_urlsafe

# jscode2session errcodes → (HTTP status, stable errcode, message for the member).
CODE_ERRORS: dict[int, tuple[int, str, str]] = {
    40029: (400, "login_code_invalid", "登录码无效或已使用，请重新进入小程序"),
    40163: (400, "login_code_invalid", "登录码无效或已使用，请重新进入小程序"),
    45011: (429, "rate_limited", "登录过于频繁，请稍后再试"),
    40226: (403, "wechat_risky_user", "微信提示该账号存在安全风险，暂时无法登录"),
}
WECHAT_UNAVAILABLE = (502, "wechat_unavailable", "微信服务暂时不可用，请稍后再试")


def code_to_session(settings: Settings, code: str) -> WxSession:
    """Exchange a wx.login code for the openid (the code is single use), or raise ApiError.

    The call itself is bot.clients.code_to_session; this maps its refusals to API errors.
    """
    try:
        return clients.code_to_session(settings, code)
    except WeChatApiError as exc:
        raise ApiError(*CODE_ERRORS.get(exc.errcode, WECHAT_UNAVAILABLE)) from None


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.app.secret_key, salt=TOKEN_SALT)


def mini_member(openid: str) -> Member | None:
    """Return the member bound to this mini-program account (with the branch), or None."""
    return member_for_openid(openid)


def token_for(settings: Settings, row: ApiSession) -> str:
    """The signed bearer token of a recorded session."""
    return _serializer(settings).dumps({"sid": row.token_id})


def _token_id(data: Any) -> str | None:
    """The session's random id from a token's payload, or None if the payload is not ours."""
    sid = data.get("sid") if isinstance(data, dict) else None
    return sid if isinstance(sid, str) and _TOKEN_ID.fullmatch(sid) else None


def check_token(settings: Settings, token: str, now: datetime) -> ApiSession:
    """Return the live session behind a bearer token, or raise 401 saying why not."""
    ttl = settings.api.session_ttl_seconds
    try:
        data = _serializer(settings).loads(token, max_age=ttl)
    except SignatureExpired:
        raise ApiError(401, "token_expired", "登录已过期，请重新进入小程序") from None
    except BadData:  # a bad signature, or a payload that does not decode
        raise ApiError(401, "token_invalid", "登录凭证无效，请重新进入小程序") from None
    sid = _token_id(data)
    row = session_by_token_id(sid) if sid else None
    if row is None:
        raise ApiError(401, "token_invalid", "登录凭证无效，请重新进入小程序")
    if row.revoked_at is not None:
        raise ApiError(401, "token_revoked", "登录已失效，请重新进入小程序")
    if row.expires_at <= now:
        raise ApiError(401, "token_expired", "登录已过期，请重新进入小程序")
    return row
