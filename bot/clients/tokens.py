"""The clients: a shared token, rebased URLs, timeouts and at most one retry."""

from __future__ import annotations

import hashlib
import logging
import time
from abc import ABC, abstractmethod
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from wechatpy import WeChatClient
from wechatpy.enterprise import WeChatClient as WeComClient
from wechatpy.exceptions import WeChatClientException

from bot.clients.constants import (
    DEFAULT_TOKEN_TTL,
    FORCE_REFRESH_ERRORS,
    OFFICIAL_API_ROOT,
    REQUEST_TIMEOUT,
    STABLE_TOKEN_UNSUPPORTED,
    TOKEN_ERRORS,
    TOKEN_USE_MARGIN,
    WECOM_API_ROOT,
    Timeout,
)
from bot.clients.errors import WeChatApiError, transport_error
from bot.clients.storage import DatabaseStorage, StoredValue, Token
from core.clock import utcnow

log = logging.getLogger("bot.clients")  # the package's one logger, whichever module logs


def api_root(base_url: str) -> str:
    """Normalise a base URL to scheme://host[:port][/prefix] without a trailing slash."""
    root = base_url.strip().rstrip("/")
    if not root.startswith(("http://", "https://")):
        raise ValueError(f"API base URL must start with http:// or https://, got {base_url!r}")
    return root


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
            raise transport_error(exc, api, self.timeout) from None

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
            raise transport_error(exc, path, self.timeout) from None
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
        self._api_root = api_root(api_base_url)
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
        self._api_root = api_root(api_base_url)
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
