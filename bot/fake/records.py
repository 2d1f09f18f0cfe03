"""The fake's limits, error messages, records and request checks."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

TOKEN_TTL = 7200


OLD_TOKEN_GRACE = 300


STABLE_REFRESH_MARGIN = 300


JS_CODE_TTL = 300


QR_DEFAULT_EXPIRE = 60


QR_MAX_EXPIRE = 2_592_000


QR_LIMIT_SCENE_MAX = 100_000


SCENE_STR_MAX = 64


ROBOT_WINDOW = 60.0


ROBOT_LIMIT = 20


ROBOT_TEXT_MAX_BYTES = 2048


ROBOT_MARKDOWN_MAX_BYTES = 4096


APPCHAT_CONTENT_MAX_BYTES = 2048


APP_MESSAGE_MAX_BYTES = 2048  # text and markdown content of a WeCom app message


BEIJING_UTC_OFFSET = 8 * 3600


DAY = 86400


SHUTDOWN_POLL = 0.01  # seconds; how fast stop() returns


# Hosts whose requests ``FakeWeChat.mount`` redirects to the fake.
REAL_HOSTS = (
    "https://api.weixin.qq.com/",
    "https://qyapi.weixin.qq.com/",
    "https://mp.weixin.qq.com/",
)


TOKEN_PATHS = ("/cgi-bin/token", "/cgi-bin/stable_token", "/cgi-bin/gettoken")


ERRMSGS: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40008: "invalid message type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40037: "invalid template_id",
    40056: "invalid agentid",
    40052: "invalid action name",
    40053: "invalid action info, please check document",
    40058: "invalid parameter",
    40125: "invalid appsecret",
    40163: "code been used",
    40164: "invalid ip, not in whitelist",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    43101: "user refuse to accept the msg",
    44002: "empty post data",
    44004: "empty content",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit, must slower, retry next minute",
    47001: "data format error",
    47003: "argument invalid!",
    81013: "user & party & tag all invalid",
    86003: "chat not exist",
    93000: "invalid webhook url",
}


OPENID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


OPENID_MAX_LEN = 64


MINIPROGRAM_STATES = ("developer", "trial", "formal")


SUBSCRIBE_LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")


QR_TEMPORARY = ("QR_SCENE", "QR_STR_SCENE")


QR_PERMANENT = ("QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")


APPCHAT_TYPES = (
    "text",
    "markdown",
    "image",
    "voice",
    "video",
    "file",
    "textcard",
    "news",
    "mpnews",
)


# A 1x1 transparent GIF, served by /cgi-bin/showqrcode in place of a QR image.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class FakeClock:
    """Tell the fake's time: real time until set or advanced, then frozen and manual."""

    def __init__(self, start: float | None = None) -> None:
        """Create a clock that follows real time, or stands at ``start`` when given."""
        self._lock = threading.Lock()
        self._fixed: float | None = start

    def now(self) -> float:
        """Return the current fake time in epoch seconds."""
        with self._lock:
            return time.time() if self._fixed is None else self._fixed

    def set(self, epoch: float) -> None:
        """Freeze the clock at ``epoch``."""
        with self._lock:
            self._fixed = float(epoch)

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (freezing it first) and return the new time."""
        with self._lock:
            base = time.time() if self._fixed is None else self._fixed
            self._fixed = base + seconds
            return self._fixed


class ApiError(Exception):
    """Signal a WeChat error answer (HTTP 200 with a non-zero errcode)."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        """Keep the errcode and its message (the standard one when not given)."""
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSGS.get(errcode, "error")
        super().__init__(f"{self.errcode} {self.errmsg}")


@dataclass
class Response:
    """Hold one HTTP answer."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] | None = None  # extra headers (WeChat Pay's signatures)


@dataclass
class Token:
    """Hold one issued access token and its validity."""

    value: str
    family: str  # "oa" (official account / mini-program) or "corp" (WeCom)
    issued_at: float
    expires_at: float
    invalid_after: float | None = None  # set when a newer token supersedes this one
    revoked: bool = False


@dataclass
class Fault:
    """Hold one injected fault and how many more requests it applies to."""

    path: str
    errcode: int | None
    errmsg: str
    http_status: int | None
    body: bytes | None
    latency: float
    remaining: int | None  # None means always
    hold: float = 0.0  # seconds the answer is held after the request was handled

    def response(self) -> Response | None:
        """Return the faulty answer, or None when the fault only adds latency."""
        if self.body is not None:
            return Response(self.http_status or 200, self.body, "text/plain; charset=utf-8")
        if self.errcode is not None:
            payload = {
                "errcode": self.errcode,
                "errmsg": self.errmsg or ERRMSGS.get(self.errcode, "error"),
            }
            return json_response(payload, self.http_status or 200)
        if self.http_status is not None:
            phrase = _status_phrase(self.http_status)
            text = f"<html><body><h1>{self.http_status} {phrase}</h1></body></html>"
            return Response(self.http_status, text.encode(), "text/html; charset=utf-8")
        return None


@dataclass
class JsCode:
    """Hold one mini-program login code."""

    openid: str
    unionid: str | None
    expires_at: float
    used: bool = False


@dataclass
class QrCode:
    """Hold one created parametric QR code."""

    scene: str
    action_name: str
    expires_at: float | None  # None for permanent codes


Handler = Callable[[dict[str, str], bytes], "dict[str, Any] | Response"]


@dataclass
class Route:
    """Describe one endpoint: its method, handler and the token family it requires."""

    method: str
    handler: Handler
    token_family: str | None = None


@dataclass
class Quota:
    """Hold the token calls used on one fake day."""

    day: int = -1
    used: int = 0


def _status_phrase(status: int) -> str:
    """Return the reason phrase of an HTTP status."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    """Encode a JSON answer the way WeChat does (UTF-8, no ASCII escaping)."""
    return Response(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def ok(**extra: Any) -> dict[str, Any]:
    """Build a success answer."""
    return {"errcode": 0, "errmsg": "ok", **extra}


def parse_json_body(body: bytes) -> dict[str, Any]:
    """Parse a POST body as a JSON object or raise the WeChat error for it."""
    if not body.strip():
        raise ApiError(44002)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(47001) from exc
    if not isinstance(data, dict):
        raise ApiError(47001)
    return data


def looks_like_openid(value: Any) -> bool:
    """Tell whether a value is shaped like an openid."""
    return (
        isinstance(value, str) and 0 < len(value) <= OPENID_MAX_LEN and set(value) <= OPENID_CHARS
    )


def check_template_data(data: Any) -> None:
    """Require template data shaped like ``{key: {"value": ...}}`` (47003 otherwise)."""
    if not isinstance(data, dict):
        raise ApiError(47003, "argument invalid! data is not a json object")
    for key, item in data.items():
        if not isinstance(item, dict) or "value" not in item:
            raise ApiError(47003, f"argument invalid! data.{key}.value invalid")


def check_content(section: Any, limit: int) -> None:
    """Require a non-empty text content of at most ``limit`` UTF-8 bytes."""
    if section is None:
        raise ApiError(44004)
    if not isinstance(section, dict):
        raise ApiError(40058, "invalid parameter, message body is not an object")
    content = section.get("content")
    if content is None or content == "":
        raise ApiError(44004)
    if not isinstance(content, str):
        raise ApiError(40058, "invalid parameter, content is not a string")
    if len(content.encode("utf-8")) > limit:
        raise ApiError(40058, "content exceed max length")


def check_string_list(section: dict[str, Any], name: str) -> None:
    """Require an optional field to be a list of strings."""
    value = section.get(name)
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ApiError(40058, f"invalid parameter, {name} must be a list of strings")
