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

import hashlib
import json
import logging
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from wechatpy import WeChatClient
from wechatpy.enterprise import WeChatClient as WeComClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from core.clock import utcnow
from core.config import Settings
from core.logs import redact_sql_params_of
from models.base import db, write_tx
from models.wechat import SharedValue

log = logging.getLogger(__name__)

OFFICIAL_API_ROOT = "https://api.weixin.qq.com"
WECOM_API_ROOT = "https://qyapi.weixin.qq.com"
# QR images are served by mp.weixin.qq.com, not by the API host, and no setting names that host:
# production always uses this constant; a non-default api_base_url (the fake, the demo) serves
# /cgi-bin/showqrcode itself. See qr_image_url().
SHOWQRCODE_URL = "https://mp.weixin.qq.com/cgi-bin/showqrcode"

REQUEST_TIMEOUT = 5.0  # seconds per request (connect and read); wechatpy's default is none
# A timeout: seconds for both the connect and the answer, or a (connect, read) pair as requests
# takes it. A connect timeout means nothing was sent; a read timeout means the request went
# out and WeChat may have acted on it.
Timeout = float | tuple[float, float]
DEFAULT_TOKEN_TTL = 7200  # seconds, when a token answer lacks expires_in
TOKEN_USE_MARGIN = timedelta(seconds=60)  # request paths renew a token closer than this to expiry
REFRESH_MARGIN = timedelta(minutes=10)  # the scheduler job renews a token closer than this

# Errcodes meaning "this access token is not (or no longer) valid".
TOKEN_ERRORS = frozenset({40001, 40014, 42001})
# 40001/40014 mean the token was invalidated before its time: the stable_token documentation asks
# for force_refresh then. 42001 (expired) renews without forcing, which stable_token does anyway.
FORCE_REFRESH_ERRORS = frozenset({40001, 40014})
# stable_token answers that mean "not available to this account": 48001 (api unauthorized) is
# what an account without permission for an API gets. An HTTP 404 (a gateway or fake without
# the endpoint) counts too. Any other error (-1 busy, 45009 quota, 40125 bad secret) is raised:
# /cgi-bin/token would fail the same way, and each extra call spends the daily quota.
STABLE_TOKEN_UNSUPPORTED = frozenset({48001})

QR_MAX_EXPIRE = 2_592_000  # 30 days: the longest a temporary QR code lives
SCENE_MAX_LEN = 64

_SECRET_QUERY = re.compile(r"([?&](?:access_token|secret|corpsecret|key)=)[^&\s\"']+")
_URLLIB3_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)


class WeChatApiError(Exception):
    """Report a failed WeChat/WeCom call: errcode None when no WeChat answer arrived."""

    def __init__(
        self,
        errcode: int | None,
        errmsg: str,
        *,
        api: str = "",
        http_status: int | None = None,
    ) -> None:
        """Keep the errcode, the English message, the API path and any HTTP status."""
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api
        self.http_status = http_status
        super().__init__(errcode, errmsg)

    def __str__(self) -> str:
        """Describe the failure without any credential."""
        where = f"WeChat API {self.api}" if self.api else "WeChat API"
        if self.errcode is None:
            return f"{where} failed: {self.errmsg}"
        return f"{where} failed with errcode {self.errcode}: {self.errmsg}"

    @property
    def transient(self) -> bool:
        """Tell whether retrying later may succeed (no answer, HTTP error, or -1 busy)."""
        return self.errcode is None or self.errcode == -1


class _RedactSecrets(logging.Filter):
    """Mask access_token, secret, corpsecret and key query values in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the rendered message when it carries a secret query value."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        masked = _SECRET_QUERY.sub(r"\1***", message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _install_log_redaction() -> None:
    """Keep DEBUG logs free of secrets: urllib3 prints URLs, peewee prints SQL parameters."""
    for name in _URLLIB3_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactSecrets) for f in logger.filters):
            logger.addFilter(_RedactSecrets())
    redact_sql_params_of(SharedValue._meta.table_name)


_install_log_redaction()


# ----- shared storage -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredValue:
    """Hold one stored value and its expiry (None: no expiry); the value stays out of repr."""

    value: Any = field(repr=False)
    expires_at: datetime | None

    def valid_for(self, margin: timedelta) -> bool:
        """Tell whether the value stays valid for at least ``margin`` from now."""
        return self.expires_at is None or self.expires_at - utcnow() > margin


@dataclass(frozen=True)
class Token:
    """Hold an access token (kept out of repr) and its expiry."""

    value: str = field(repr=False)
    expires_at: datetime


@contextmanager
def _connection() -> Iterator[None]:
    """Use the caller's open connection, or hold a short one for this call only."""
    if db.is_closed():
        with db.connection_context():
            yield
    else:
        yield


class DatabaseStorage(SessionStorage):
    """Keep wechatpy session values in SharedValue, shared by every process; JSON-encoded."""

    def entry(self, key: str) -> StoredValue | None:
        """Return the live value of ``key`` with its expiry, or None when missing or expired."""
        with _connection():
            row = SharedValue.get_or_none(SharedValue.key == key)
        if row is None:
            return None
        if row.expires_at is not None and row.expires_at <= utcnow():
            return None
        try:
            value = json.loads(row.value)
        except ValueError:
            log.warning("Shared value %s is not valid JSON; treating it as missing", key)
            return None
        return StoredValue(value, row.expires_at)

    def get(self, key: str, default: Any = None) -> Any:
        """Return the live value of ``key``, or ``default``."""
        entry = self.entry(key)
        return default if entry is None else entry.value

    def set(self, key: str, value: Any, ttl: int | float | None = None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (None: without expiry)."""
        expires_at = None if ttl is None else utcnow() + timedelta(seconds=max(ttl, 0))
        self.put(key, value, expires_at)

    def put(self, key: str, value: Any, expires_at: datetime | None) -> None:
        """Store ``value`` under ``key`` until ``expires_at`` (None: without expiry)."""
        encoded = json.dumps(value, ensure_ascii=False)
        now = utcnow()
        with _connection(), write_tx():
            SharedValue.insert(
                key=key, value=encoded, expires_at=expires_at, updated_at=now
            ).on_conflict(
                conflict_target=[SharedValue.key],
                update={
                    SharedValue.value: encoded,
                    SharedValue.expires_at: expires_at,
                    SharedValue.updated_at: now,
                },
            ).execute()

    def delete(self, key: str) -> None:
        """Remove ``key``."""
        with _connection(), write_tx():
            SharedValue.delete().where(SharedValue.key == key).execute()

    def discard(self, key: str, value: Any) -> bool:
        """Remove ``key`` only while it still holds ``value``; tell whether it did."""
        encoded = json.dumps(value, ensure_ascii=False)
        with _connection(), write_tx():
            deleted = (
                SharedValue.delete()
                .where((SharedValue.key == key) & (SharedValue.value == encoded))
                .execute()
            )
        return deleted > 0


# ----- clients ------------------------------------------------------------------------------


def _root(base_url: str) -> str:
    """Normalise a base URL to scheme://host[:port][/prefix] without a trailing slash."""
    root = base_url.strip().rstrip("/")
    if not root.startswith(("http://", "https://")):
        raise ValueError(f"API base URL must start with http:// or https://, got {base_url!r}")
    return root


def _transport_error(exc: requests.RequestException, api: str, timeout: Timeout) -> WeChatApiError:
    """Describe a request that got no usable answer; never quote ``exc`` (its URL has tokens).

    A connect timeout or a refused connection sent nothing; a read timeout says the request
    went out, so WeChat may have acted on it.
    """
    connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
    if isinstance(exc, requests.ConnectTimeout):
        return WeChatApiError(None, f"no connection within {connect:g} s (nothing sent)", api=api)
    if isinstance(exc, requests.Timeout):
        return WeChatApiError(None, f"no answer within {read:g} s", api=api)
    if isinstance(exc, requests.ConnectionError):
        return WeChatApiError(None, "connection failed", api=api)
    return WeChatApiError(None, f"request failed ({type(exc).__name__})", api=api)


def _stable_unsupported(exc: WeChatApiError) -> bool:
    """Tell whether a stable_token failure means the endpoint is unavailable here."""
    return exc.http_status == 404 or exc.errcode in STABLE_TOKEN_UNSUPPORTED


class _SharedTokenMixin(ABC):
    """Share the token through the database, rebase URLs, time out and retry once.

    The retry lives in ``_request``, not in ``_handle_result`` where wechatpy's own
    ``auto_retry`` sits: ``_handle_result`` only sees the answer and re-enters ``_request``
    recursively with kwargs wechatpy already rewrote, so an attempt count there would need
    per-instance state shared by every thread. ``_request`` is the one entry point of every
    API method (``get``/``post`` of each ``client.<api>``), so wrapping it gives two explicit,
    sequential attempts with everything in local scope: no loop, no recursion.
    """

    # Set by the concrete clients' __init__ (see OfficialClient and WorkClient).
    _storage: DatabaseStorage
    _api_root: str
    _real_root: str
    _http: requests.Session
    API_BASE_URL: str
    access_token_key: str
    expires_at: int | None
    secret: str
    timeout: Timeout

    @property
    def access_token(self) -> str:
        """Return the shared token, renewing it when missing or about to expire."""
        # First touch an instance attribute: wechatpy's __new__ inspects every property of a
        # half-built client and only tolerates AttributeError.
        storage = self._storage
        entry = storage.entry(self.access_token_key)
        if (
            entry is not None
            and isinstance(entry.value, str)
            and entry.valid_for(TOKEN_USE_MARGIN)
        ):
            return entry.value
        return self.renew_token().value

    def stored_token(self) -> StoredValue | None:
        """Return the shared token and its expiry, or None when missing or expired."""
        entry = self._storage.entry(self.access_token_key)
        return entry if entry is not None and isinstance(entry.value, str) else None

    def renew_token(self, force: bool = False) -> Token:
        """Fetch a token from WeChat, store it for every process and return it."""
        value, expires_in = self._fetch_token(force)
        token = Token(value, utcnow() + timedelta(seconds=expires_in))
        self._storage.put(self.access_token_key, token.value, token.expires_at)
        self.expires_at = int(time.time()) + expires_in
        return token

    def fetch_access_token(self) -> dict[str, Any]:
        """Fetch and store a token; wechatpy's hook, answering like wechatpy does."""
        token = self.renew_token()
        expires_in = max(int((token.expires_at - utcnow()).total_seconds()), 0)
        return {"access_token": token.value, "expires_in": expires_in}

    @abstractmethod
    def _fetch_token(self, force: bool) -> tuple[str, int]:
        """Ask WeChat for a token and return it with its lifetime in seconds."""

    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        """Send one API call; on a token error renew the shared token and retry exactly once."""
        url = self._rebase(url_or_endpoint)
        if isinstance(kwargs.get("api_base_url"), str):
            kwargs["api_base_url"] = self._rebase(kwargs["api_base_url"])
        api = self._api_path(url, kwargs.get("api_base_url"))
        params = kwargs.get("params")
        if params is not None and (not isinstance(params, dict) or "access_token" in params):
            return self._send(method, url, api, kwargs, None)  # the caller brought its own token
        token = self.access_token
        try:
            return self._send(method, url, api, kwargs, token)
        except WeChatApiError as exc:
            # An upload's file streams are consumed by the first attempt: never resend them.
            if exc.errcode not in TOKEN_ERRORS or kwargs.get("files"):
                raise
            errcode = exc.errcode
        log.warning(
            "WeChat %s rejected the access token (errcode %s); renewing it and retrying once",
            api,
            errcode,
        )
        token = self._renew_rejected(token, errcode)
        return self._send(method, url, api, kwargs, token)

    def _send(
        self, method: str, url: str, api: str, kwargs: dict[str, Any], token: str | None
    ) -> Any:
        """Make one attempt through wechatpy, mapping every failure to WeChatApiError."""
        call = dict(kwargs)
        if token is not None:
            call["params"] = {**(kwargs.get("params") or {}), "access_token": token}
        try:
            return super()._request(method, url, **call)  # type: ignore[misc]
        except WeChatClientException as exc:
            if exc.errcode is None:
                status = getattr(exc.response, "status_code", None)
                raise WeChatApiError(None, f"HTTP {status}", api=api, http_status=status) from None
            errmsg = self._scrub(str(exc.errmsg), token)
            raise WeChatApiError(int(exc.errcode), errmsg, api=api) from None
        except requests.RequestException as exc:
            raise _transport_error(exc, api, self.timeout) from None

    def _renew_rejected(self, rejected: str, errcode: int) -> str:
        """Return a token to retry with after ``rejected`` failed with ``errcode``."""
        key = self.access_token_key
        entry = self._storage.entry(key)
        if (
            entry is not None
            and isinstance(entry.value, str)
            and entry.value != rejected
            and entry.valid_for(TOKEN_USE_MARGIN)
        ):
            log.info("Another process already renewed the access token; retrying with it")
            return entry.value
        self._storage.discard(key, rejected)
        return self.renew_token(force=errcode in FORCE_REFRESH_ERRORS).value

    def _request_token(self, method: str, path: str, **kwargs: Any) -> tuple[str, int]:
        """Call a token endpoint under the configured root; return the token and its lifetime."""
        url = self._api_root + path
        try:
            res = self._http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise _transport_error(exc, path, self.timeout) from None
        if res.status_code >= 400:
            raise WeChatApiError(
                None, f"HTTP {res.status_code}", api=path, http_status=res.status_code
            )
        try:
            answer = res.json()
        except ValueError:
            raise WeChatApiError(None, "answer is not JSON", api=path) from None
        if not isinstance(answer, dict):
            raise WeChatApiError(None, "answer is not a JSON object", api=path)
        try:
            errcode = int(answer.get("errcode") or 0)
        except (TypeError, ValueError):
            raise WeChatApiError(None, "answer has a malformed errcode", api=path) from None
        if errcode:
            errmsg = self._scrub(str(answer.get("errmsg", "")))
            raise WeChatApiError(errcode, errmsg, api=path)
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeChatApiError(None, "answer has no access_token", api=path)
        expires_in = answer.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
            expires_in = DEFAULT_TOKEN_TTL
        log.info("Fetched an access token from %s (expires in %d s)", path, expires_in)
        return token, expires_in

    def _rebase(self, url: str) -> str:
        """Point a URL on the real API host at the configured root."""
        if url.startswith(self._real_root + "/"):
            return self._api_root + url[len(self._real_root) :]
        return url

    def _api_path(self, url: str, api_base_url: str | None) -> str:
        """Return the path of the called API, for messages and logs (never the query)."""
        if not url.startswith(("http://", "https://")):
            url = (api_base_url or self.API_BASE_URL) + url
        return urlsplit(url).path

    def _scrub(self, text: str, *extra: str | None) -> str:
        """Mask the secret and the given tokens wherever they appear in ``text``."""
        for value in (self.secret, *extra):
            if value:
                text = text.replace(value, "***")
        return text


class OfficialClient(_SharedTokenMixin, WeChatClient):
    """Call the official-account APIs (``client.qrcode``, ``client.message``, ``client.wxa``)."""

    def __init__(
        self,
        appid: str,
        secret: str,
        *,
        api_base_url: str = OFFICIAL_API_ROOT,
        storage: DatabaseStorage | None = None,
        session: requests.Session | None = None,
        timeout: Timeout = REQUEST_TIMEOUT,
    ) -> None:
        """Build a client on ``api_base_url`` sharing its token through ``storage``."""
        storage = storage or DatabaseStorage()
        super().__init__(appid, secret, session=storage, timeout=timeout, auto_retry=False)
        self._storage = storage
        self._api_root = _root(api_base_url)
        self._real_root = OFFICIAL_API_ROOT
        self.API_BASE_URL = self._api_root + "/cgi-bin/"
        self._stable_token_supported = True
        if session is not None:
            self._http = session

    @property
    def access_token_key(self) -> str:
        """Return the SharedValue key of this app's token."""
        return f"wechat:oa:{self.appid}:access_token"

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        """Get a token from stable_token, or from /cgi-bin/token where that is unsupported."""
        if self._stable_token_supported:
            body = {
                "grant_type": "client_credential",
                "appid": self.appid,
                "secret": self.secret,
                "force_refresh": force,
            }
            try:
                return self._request_token("POST", "/cgi-bin/stable_token", json=body)
            except WeChatApiError as exc:
                if not _stable_unsupported(exc):
                    raise
                log.warning("%s; falling back to /cgi-bin/token", exc)
                self._stable_token_supported = False
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        return self._request_token("GET", "/cgi-bin/token", params=params)


class WorkClient(_SharedTokenMixin, WeComClient):
    """Call the WeCom (企业微信) APIs (``client.appchat``, ``client.message``...)."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        *,
        api_base_url: str = WECOM_API_ROOT,
        storage: DatabaseStorage | None = None,
        session: requests.Session | None = None,
        timeout: Timeout = REQUEST_TIMEOUT,
    ) -> None:
        """Build a client on ``api_base_url`` sharing its token through ``storage``."""
        storage = storage or DatabaseStorage()
        super().__init__(corp_id, secret, session=storage, timeout=timeout, auto_retry=False)
        self._storage = storage
        self._api_root = _root(api_base_url)
        self._real_root = WECOM_API_ROOT
        self.API_BASE_URL = self._api_root + "/cgi-bin/"
        if session is not None:
            self._http = session

    @property
    def access_token_key(self) -> str:
        """Return the SharedValue key of this app's token (a digest, never the secret itself)."""
        digest = hashlib.sha256(self.secret.encode("utf-8")).hexdigest()[:16]
        return f"wecom:{self.corp_id}:{digest}:access_token"

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        """Get a token from /cgi-bin/gettoken (WeCom has no forced refresh)."""
        params = {"corpid": self.corp_id, "corpsecret": self.secret}
        return self._request_token("GET", "/cgi-bin/gettoken", params=params)


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


@dataclass(frozen=True)
class QrCode:
    """Describe one temporary parametric QR code: its ticket, image URL and expiry."""

    ticket: str
    url: str  # the image (showqrcode) URL
    expires_at: datetime
    content_url: str = ""  # the URL the QR encodes, to render the image locally


def qr_image_url(ticket: str, api_base_url: str) -> str:
    """Return the image URL of a QR ticket, like wechatpy's ``qrcode.get_url``.

    The production image host (mp.weixin.qq.com) differs from the API host and has no setting
    of its own; when api_base_url is the production API, the fixed SHOWQRCODE_URL is used.
    Any other base (the local fake, the demo) serves /cgi-bin/showqrcode itself.
    """
    root = _root(api_base_url)
    base = SHOWQRCODE_URL if root == OFFICIAL_API_ROOT else root + "/cgi-bin/showqrcode"
    return f"{base}?ticket={quote(ticket, safe='')}"


def _check_scene(scene: Any) -> str:
    """Return a valid scene string or raise ValueError."""
    if not isinstance(scene, str) or not 1 <= len(scene) <= SCENE_MAX_LEN:
        raise ValueError(f"scene must be a string of 1 to {SCENE_MAX_LEN} characters")
    if not scene.isprintable():
        raise ValueError("scene must not contain control characters")
    return scene


def _capped_expire(expire_seconds: Any) -> int:
    """Return a positive QR lifetime capped at QR_MAX_EXPIRE, or raise ValueError."""
    if isinstance(expire_seconds, bool) or not isinstance(expire_seconds, int):
        raise ValueError("expire_seconds must be an integer")
    if expire_seconds < 1:
        raise ValueError("expire_seconds must be at least 1")
    if expire_seconds > QR_MAX_EXPIRE:
        log.debug("QR lifetime %d s capped at %d s", expire_seconds, QR_MAX_EXPIRE)
    return min(expire_seconds, QR_MAX_EXPIRE)


def create_meeting_qr(
    settings: Settings,
    scene: str,
    expire_seconds: int,
    *,
    client: OfficialClient | None = None,
) -> QrCode:
    """Create a temporary QR_STR_SCENE code whose scan carries ``scene``."""
    scene = _check_scene(scene)
    expire = _capped_expire(expire_seconds)
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
