"""Build WeChat and WeCom API clients that share one token, time out, and retry at most once.

wechatpy 1.8.18 clients, used as they come, have four hazards (see WECHAT.md): ``auto_retry``
refetches the token recursively without bound on 40001/40014/42001, requests have no timeout,
``MemoryStorage`` keeps the token per process, and the base URLs (the token URL included) are
hard-coded. The clients built here fix all four:

- the token lives in the database (``DatabaseStorage`` over ``SharedValue``), so web workers and
  the scheduler share one token; ``refresh_official_token`` (a scheduler job) keeps it fresh, so
  request paths normally never call the token endpoint;
- tokens come from ``/cgi-bin/stable_token``, which hands every caller the same token instead
  of invalidating the previous one (``/cgi-bin/token`` is only a fallback, see
  ``STABLE_TOKEN_UNSUPPORTED``);
- every request has a timeout: ``REQUEST_TIMEOUT`` by default, or a (connect, read) pair (the
  outbox's channels pass ``outbox.connect_timeout_seconds`` and ``read_timeout_seconds``);
- a token error renews the shared token and retries the call exactly once;
- every base URL, the token URL included, comes from the settings (tests point it at the fake);
- every failure surfaces as one ``WeChatApiError`` whose message never carries a token or secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests

from bot.clients.constants import (
    DEFAULT_TOKEN_TTL,
    FORCE_REFRESH_ERRORS,
    OFFICIAL_API_ROOT,
    QR_MAX_EXPIRE,
    REFRESH_MARGIN,
    REQUEST_TIMEOUT,
    SCENE_MAX_LEN,
    SHOWQRCODE_URL,
    STABLE_TOKEN_UNSUPPORTED,
    TOKEN_ERRORS,
    TOKEN_USE_MARGIN,
    WECOM_API_ROOT,
    Timeout,
)
from bot.clients.errors import WeChatApiError
from bot.clients.qr import QrCode, capped_expire, check_scene, qr_image_url
from bot.clients.storage import DatabaseStorage, StoredValue, Token
from bot.clients.tokens import OfficialClient, WorkClient
from core.clock import utcnow
from core.config import Settings

__all__ = [
    "DEFAULT_TOKEN_TTL",
    "FORCE_REFRESH_ERRORS",
    "JSCODE2SESSION",
    "OFFICIAL_API_ROOT",
    "QR_MAX_EXPIRE",
    "REFRESH_MARGIN",
    "REQUEST_TIMEOUT",
    "SCENE_MAX_LEN",
    "SHOWQRCODE_URL",
    "STABLE_TOKEN_UNSUPPORTED",
    "TOKEN_ERRORS",
    "TOKEN_USE_MARGIN",
    "WECOM_API_ROOT",
    "DatabaseStorage",
    "OfficialClient",
    "QrCode",
    "StoredValue",
    "Timeout",
    "Token",
    "WeChatApiError",
    "WorkClient",
    "WxSession",
    "code_to_session",
    "create_meeting_qr",
    "create_scene_qr",
    "official_client",
    "qr_image_url",
    "refresh_official_token",
    "work_client",
]

log = logging.getLogger("bot.clients")  # the package's one logger, whichever module logs


def official_client(
    settings: Settings,
    *,
    session: requests.Session | None = None,
    timeout: Timeout | None = None,
) -> OfficialClient:
    """Build the official-account client from settings.wechat (timeout: REQUEST_TIMEOUT)."""
    wechat = settings.wechat
    return OfficialClient(
        wechat.app_id,
        wechat.app_secret,
        api_base_url=wechat.api_base_url,
        session=session,
        timeout=REQUEST_TIMEOUT if timeout is None else timeout,
    )


def work_client(
    settings: Settings,
    corp_id: str,
    secret: str,
    *,
    base_url: str = WECOM_API_ROOT,
    session: requests.Session | None = None,
    timeout: Timeout | None = None,
) -> WorkClient:
    """Build a WeCom client for one app; ``base_url`` is the fake's in tests and the demo."""
    return WorkClient(
        corp_id,
        secret,
        api_base_url=base_url,
        session=session,
        timeout=REQUEST_TIMEOUT if timeout is None else timeout,
    )


# ----- jobs and helpers -----------------------------------------------------------------------


def refresh_official_token(
    settings: Settings, *, client: OfficialClient | None = None
) -> datetime:
    """Renew the shared token when missing or expiring within 10 minutes; return its expiry.

    Run it from the scheduler every 5 minutes: stable_token returns the same token until about
    5 minutes before expiry, so a run inside the 10-minute margin may get the same token back
    and the next run then gets the new one, always before request paths would need to renew.
    """
    client = client or official_client(settings)
    entry = client.stored_token()
    if entry is not None and entry.expires_at is not None and entry.valid_for(REFRESH_MARGIN):
        log.debug("Access token still valid until %s; not renewing", entry.expires_at)
        return entry.expires_at
    renewed = client.renew_token()
    log.info("Access token renewed, valid until %s", renewed.expires_at)
    return renewed.expires_at


def create_scene_qr(
    settings: Settings,
    scene: str,
    expire_seconds: int,
    *,
    client: OfficialClient | None = None,
) -> QrCode:
    """Create a temporary QR_STR_SCENE code whose scan carries ``scene`` (a meeting's sign-in,
    a console login)."""
    scene = check_scene(scene)
    expire = capped_expire(expire_seconds)
    client = client or official_client(settings)
    started = utcnow()
    answer = client.qrcode.create(
        {
            "expire_seconds": expire,
            "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        }
    )
    api = "/cgi-bin/qrcode/create"
    if not isinstance(answer, dict):
        raise WeChatApiError(None, "answer is not JSON", api=api)
    ticket = answer.get("ticket")
    if not isinstance(ticket, str) or not ticket:
        raise WeChatApiError(None, "answer has no ticket", api=api)
    granted = answer.get("expire_seconds", expire)
    if isinstance(granted, bool) or not isinstance(granted, int) or granted <= 0:
        granted = expire
    content_url = answer.get("url")
    return QrCode(
        ticket=ticket,
        url=qr_image_url(ticket, settings.wechat.api_base_url),
        expires_at=started + timedelta(seconds=min(granted, expire)),
        content_url=content_url if isinstance(content_url, str) else "",
    )


create_meeting_qr = create_scene_qr  # the meetings' name for it


# ---- mini-program login -------------------------------------------------------------------

JSCODE2SESSION = "/sns/jscode2session"


@dataclass(frozen=True)
class WxSession:
    """What code2session told us, without the session_key."""

    openid: str
    unionid: str | None


def code_to_session(settings: Settings, code: str) -> WxSession:
    """Exchange a wx.login code for the openid (the code is single use).

    Raise WeChatApiError: with WeChat's errcode when it refused the code (-1 for an errcode
    that is not a number), with None when no usable answer came. The session_key in the
    answer is dropped here: never stored, returned or logged.

    wechatpy's ``client.wxa.code_to_session`` fetches an access token first, which this
    endpoint does not need (WECHAT.md §4); the call goes straight to the configured API root.
    """
    wechat = settings.wechat
    url = wechat.api_base_url.rstrip("/") + JSCODE2SESSION
    params = {
        "appid": wechat.app_id,
        "secret": wechat.app_secret,
        "js_code": code,
        "grant_type": "authorization_code",
    }
    try:
        res = requests.get(url, params=params, timeout=REQUEST_TIMEOUT)
        answer = res.json() if res.status_code < 400 else None
    except (requests.RequestException, ValueError) as exc:
        log.warning("jscode2session failed: %s", type(exc).__name__)
        raise WeChatApiError(None, type(exc).__name__, api=JSCODE2SESSION) from None
    if not isinstance(answer, dict):
        log.warning("jscode2session answered HTTP %s without a JSON object", res.status_code)
        raise WeChatApiError(
            None, "answer is not a JSON object", api=JSCODE2SESSION, http_status=res.status_code
        )
    try:
        errcode = int(answer.get("errcode") or 0)
    except (TypeError, ValueError):
        errcode = -1
    if errcode:
        log.info("jscode2session refused the code: errcode %s", errcode)
        raise WeChatApiError(errcode, "the code was refused", api=JSCODE2SESSION)
    openid, unionid = answer.get("openid"), answer.get("unionid")
    if not isinstance(openid, str) or not 0 < len(openid) <= 64:
        log.warning("jscode2session answered without a usable openid")
        raise WeChatApiError(None, "answer has no usable openid", api=JSCODE2SESSION)
    if not isinstance(unionid, str) or not 0 < len(unionid) <= 64:
        unionid = None
    return WxSession(openid, unionid)
