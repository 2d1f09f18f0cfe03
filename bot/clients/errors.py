"""The one error of every WeChat call, and logs kept free of secrets."""

from __future__ import annotations

import logging
import re

import requests

from bot.clients.constants import Timeout
from core.logs import redact_sql_params_of
from models.wechat import SharedValue

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


def transport_error(exc: requests.RequestException, api: str, timeout: Timeout) -> WeChatApiError:
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
