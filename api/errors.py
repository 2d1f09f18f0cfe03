"""One error shape for the whole API: {"errcode": "<stable code>", "errmsg": "<Chinese>"}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from api import busy
from handlers.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooMany

log = logging.getLogger(__name__)

PREFIX = "/api/"

# The stable code and message for each HTTP error raised by Flask or Werkzeug themselves.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式不正确。"),
    401: ("unauthorized", "请先登录。"),
    403: ("forbidden", "没有权限进行此操作。"),
    404: ("not_found", "请求的接口或资源不存在。"),
    405: ("method_not_allowed", "该接口不支持此请求方法。"),
    413: ("body_too_large", "请求内容过大。"),
    415: ("unsupported_media_type", "请求内容须为 JSON（Content-Type: application/json）。"),
    429: ("rate_limited", "操作过于频繁，请稍后再试。"),
}
INTERNAL = ("internal_error", "系统繁忙，请稍后再试。")

# The HTTP status of each kind of refusal a handler raises; any other DomainError is a rule's
# refusal of a well-formed request: 422.
REFUSAL_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (Invalid, 400),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TooMany, 429),
)


def refusal_status(exc: DomainError) -> int:
    return next((status for kind, status in REFUSAL_STATUS if isinstance(exc, kind)), 422)


class ApiError(Exception):
    """Refuse a request with an HTTP status, a stable errcode and a Chinese message."""

    def __init__(self, status: int, errcode: str, errmsg: str) -> None:
        super().__init__(errcode, errmsg)
        self.status = status
        self.errcode = errcode
        self.errmsg = errmsg


def error_response(status: int, errcode: str, errmsg: str) -> Response:
    response = jsonify({"errcode": errcode, "errmsg": errmsg})
    response.status_code = status
    return response


def _on_http_error(exc: HTTPException) -> Any:
    if not request.path.startswith(PREFIX):
        return exc  # the rest of the app keeps Flask's own answers
    status = exc.code or 500
    errcode, errmsg = HTTP_ERRORS.get(status, INTERNAL)
    response = error_response(status, errcode, errmsg)
    allow = exc.get_response().headers.get("Allow") if status == 405 else None
    if allow:
        response.headers["Allow"] = allow
    return response


def handle(exc: Exception) -> Any:
    """The blueprint's one error handler: ApiError, HTTP errors, a busy database (503, after
    api.busy's retries), and anything unexpected."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.errcode, exc.errmsg)
    if isinstance(exc, DomainError):  # a handler's rule refused it, in words for the member
        return error_response(refusal_status(exc), exc.errcode, exc.message)
    if isinstance(exc, HTTPException):
        return _on_http_error(exc)
    if busy.is_transient(exc):
        seconds = busy.retry_after()
        response = error_response(
            503, busy.BUSY_ERRCODE, busy.BUSY_MESSAGE.format(seconds=seconds)
        )
        response.headers["Retry-After"] = str(seconds)
        return response
    log.exception("API %s %s failed", request.method, request.path)
    return error_response(500, *INTERNAL)


def register(app: Flask) -> None:
    """Answer routing errors (404, 405) under /api/ as JSON too: no blueprint sees them."""
    app.register_error_handler(HTTPException, _on_http_error)
