"""Serve a local fake of the WeChat and WeCom HTTP APIs for tests, the demo and the CLI.

One real HTTP server on 127.0.0.1 answers the official-account, mini-program and WeCom
endpoints zhibu uses (WeCom: gettoken, app chats, app messages to members, group robots), with
the real error codes, limits and timing rules (token grace and expiry, daily token quota,
single-use login codes, one-time subscribe credits, ``invaliduser`` for app-message recipients
outside the app's visible range, robot byte limits and the 20-a-minute window). Time is a
controllable ``FakeClock``; faults (errcodes, HTTP 5xx, non-JSON bodies, latency before the
request is handled, and a stall that handles the request and then holds its answer) can be
injected per path.

Usage::

    with FakeWeChat() as fake:
        session = requests.Session()
        fake.mount(session)            # https://api.weixin.qq.com/... now reaches the fake
        client = wechatpy.WeChatClient(fake.appid, fake.secret, auto_retry=False)
        fake.mount(client._http)       # wechatpy hard-codes the token URL: redirect its session

Run alone: ``python -m bot.fake --port 8910``.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import logging
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

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


class _ApiError(Exception):
    """Signal a WeChat error answer (HTTP 200 with a non-zero errcode)."""

    def __init__(self, errcode: int, errmsg: str | None = None) -> None:
        """Keep the errcode and its message (the standard one when not given)."""
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSGS.get(errcode, "error")
        super().__init__(f"{self.errcode} {self.errmsg}")


@dataclass
class _Response:
    """Hold one HTTP answer."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"


@dataclass
class _Token:
    """Hold one issued access token and its validity."""

    value: str
    family: str  # "oa" (official account / mini-program) or "corp" (WeCom)
    issued_at: float
    expires_at: float
    invalid_after: float | None = None  # set when a newer token supersedes this one
    revoked: bool = False


@dataclass
class _Fault:
    """Hold one injected fault and how many more requests it applies to."""

    path: str
    errcode: int | None
    errmsg: str
    http_status: int | None
    body: bytes | None
    latency: float
    remaining: int | None  # None means always
    hold: float = 0.0  # seconds the answer is held after the request was handled

    def response(self) -> _Response | None:
        """Return the faulty answer, or None when the fault only adds latency."""
        if self.body is not None:
            return _Response(self.http_status or 200, self.body, "text/plain; charset=utf-8")
        if self.errcode is not None:
            payload = {
                "errcode": self.errcode,
                "errmsg": self.errmsg or ERRMSGS.get(self.errcode, "error"),
            }
            return _json_response(payload, self.http_status or 200)
        if self.http_status is not None:
            phrase = _status_phrase(self.http_status)
            text = f"<html><body><h1>{self.http_status} {phrase}</h1></body></html>"
            return _Response(self.http_status, text.encode(), "text/html; charset=utf-8")
        return None


@dataclass
class _JsCode:
    """Hold one mini-program login code."""

    openid: str
    unionid: str | None
    expires_at: float
    used: bool = False


@dataclass
class _QrCode:
    """Hold one created parametric QR code."""

    scene: str
    action_name: str
    expires_at: float | None  # None for permanent codes


Handler = Callable[[dict[str, str], bytes], "dict[str, Any] | _Response"]


@dataclass
class _Route:
    """Describe one endpoint: its method, handler and the token family it requires."""

    method: str
    handler: Handler
    token_family: str | None = None


@dataclass
class _Quota:
    """Hold the token calls used on one fake day."""

    day: int = -1
    used: int = 0


def _status_phrase(status: int) -> str:
    """Return the reason phrase of an HTTP status."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_response(payload: dict[str, Any], status: int = 200) -> _Response:
    """Encode a JSON answer the way WeChat does (UTF-8, no ASCII escaping)."""
    return _Response(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _ok(**extra: Any) -> dict[str, Any]:
    """Build a success answer."""
    return {"errcode": 0, "errmsg": "ok", **extra}


def _parse_json_body(body: bytes) -> dict[str, Any]:
    """Parse a POST body as a JSON object or raise the WeChat error for it."""
    if not body.strip():
        raise _ApiError(44002)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _ApiError(47001) from exc
    if not isinstance(data, dict):
        raise _ApiError(47001)
    return data


def _looks_like_openid(value: Any) -> bool:
    """Tell whether a value is shaped like an openid."""
    return (
        isinstance(value, str) and 0 < len(value) <= OPENID_MAX_LEN and set(value) <= OPENID_CHARS
    )


def _check_template_data(data: Any) -> None:
    """Require template data shaped like ``{key: {"value": ...}}`` (47003 otherwise)."""
    if not isinstance(data, dict):
        raise _ApiError(47003, "argument invalid! data is not a json object")
    for key, item in data.items():
        if not isinstance(item, dict) or "value" not in item:
            raise _ApiError(47003, f"argument invalid! data.{key}.value invalid")


def _check_content(section: Any, limit: int) -> None:
    """Require a non-empty text content of at most ``limit`` UTF-8 bytes."""
    if section is None:
        raise _ApiError(44004)
    if not isinstance(section, dict):
        raise _ApiError(40058, "invalid parameter, message body is not an object")
    content = section.get("content")
    if content is None or content == "":
        raise _ApiError(44004)
    if not isinstance(content, str):
        raise _ApiError(40058, "invalid parameter, content is not a string")
    if len(content.encode("utf-8")) > limit:
        raise _ApiError(40058, "content exceed max length")


def _check_string_list(section: dict[str, Any], name: str) -> None:
    """Require an optional field to be a list of strings."""
    value = section.get(name)
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _ApiError(40058, f"invalid parameter, {name} must be a list of strings")


class _RedirectAdapter(HTTPAdapter):
    """Send requests meant for WeChat hosts to the fake instead."""

    def __init__(self, base_url: str) -> None:
        """Remember the fake's base URL."""
        super().__init__()
        self._target = urlsplit(base_url)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Rewrite the scheme and host of the request, then send it."""
        parts = urlsplit(request.url or "")
        request.url = urlunsplit(
            (self._target.scheme, self._target.netloc, parts.path, parts.query, parts.fragment)
        )
        return super().send(request, **kwargs)


class _Server(ThreadingHTTPServer):
    """Serve the fake in one thread per request, never blocking shutdown on idle clients."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # bursts of concurrent senders overflow the default backlog of 5

    def __init__(self, address: tuple[str, int], fake: FakeWeChat) -> None:
        """Bind the server and keep a reference to the fake it serves."""
        self.fake = fake
        super().__init__(address, _RequestHandler)


class _RequestHandler(BaseHTTPRequestHandler):
    """Translate HTTP requests into calls on the fake."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeWeChat/1.0"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    timeout = 60
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        """Answer a GET request."""
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        """Answer a POST request."""
        self._serve("POST")

    def _serve(self, method: str) -> None:
        """Read the body, let the fake answer and write the answer back."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        try:
            response = self.server.fake._handle(method, self.path, body)
        except Exception:
            logger.exception("Fake WeChat failed on %s %s", method, urlsplit(self.path).path)
            response = _json_response({"errcode": -1, "errmsg": "system error"}, 500)
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("Client went away before the answer to %s", urlsplit(self.path).path)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log the request without its query string (it carries tokens and keys)."""
        logger.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        """Send the server's own messages to logging instead of stderr."""
        logger.debug("Fake WeChat: " + format, *args)


class FakeWeChat:
    """Fake the WeChat official-account, mini-program and WeCom APIs over real HTTP."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        appid: str = "wxdemoappid000001",
        secret: str = "demo-secret",  # noqa: S107 - demo credential of a local fake
        corp_id: str = "wwdemocorp",
        corp_secret: str = "demo-corp-secret",  # noqa: S107 - demo credential of a local fake
        robot_keys: Iterable[str] | None = None,
        wecom_users: Iterable[str] | None = None,
        token_quota: int = 2000,
        clock: FakeClock | None = None,
    ) -> None:
        """Configure the fake; ``robot_keys=None`` accepts any key starting with "demo-".

        ``wecom_users`` are the userids in the WeCom app's visible range (``None``: every
        userid); app messages to other userids come back in ``invaliduser``.
        """
        self.host = host
        self.port = port
        self.appid = appid
        self.secret = secret
        self.corp_id = corp_id
        self.corp_secret = corp_secret
        self.robot_keys: set[str] | None = None if robot_keys is None else set(robot_keys)
        self.wecom_users: set[str] | None = None if wecom_users is None else set(wecom_users)
        self.token_quota = token_quota
        self.clock = clock or FakeClock()
        self.received: list[dict[str, Any]] = []
        self.calls: Counter[str] = Counter()
        self.chats: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._tokens: dict[str, _Token] = {}
        self._stable_current: _Token | None = None
        self._corp_current: _Token | None = None
        self._quota = _Quota()
        self._faults: list[_Fault] = []
        self._credits: Counter[tuple[str, str]] = Counter()
        self._js_codes: dict[str, _JsCode] = {}
        self._qrcodes: dict[str, _QrCode] = {}
        self._robot_sent: dict[str, list[float]] = {}
        self._msgid = 2_000_000_000
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[str, _Route] = {
            "/cgi-bin/token": _Route("GET", self._token),
            "/cgi-bin/stable_token": _Route("POST", self._stable_token),
            "/cgi-bin/qrcode/create": _Route("POST", self._qrcode_create, "oa"),
            "/cgi-bin/showqrcode": _Route("GET", self._show_qrcode),
            "/cgi-bin/message/template/send": _Route("POST", self._template_send, "oa"),
            "/cgi-bin/message/subscribe/send": _Route("POST", self._subscribe_send, "oa"),
            "/sns/jscode2session": _Route("GET", self._jscode2session),
            # Not WeChat's: what wx.login does in the mini-program, for the demo's
            # simulate-login (a single-use code for ?openid=).
            "/fake/js_code": _Route("POST", self._fake_js_code),
            "/cgi-bin/gettoken": _Route("GET", self._gettoken),
            "/cgi-bin/appchat/create": _Route("POST", self._appchat_create, "corp"),
            "/cgi-bin/appchat/send": _Route("POST", self._appchat_send, "corp"),
            "/cgi-bin/message/send": _Route("POST", self._message_send, "corp"),
            "/cgi-bin/webhook/send": _Route("POST", self._webhook_send),
        }

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeWeChat:
        """Start serving in a background thread and return self."""
        if self._server is not None:
            raise RuntimeError("FakeWeChat is already running")
        server = _Server((self.host, self.port), self)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": SHUTDOWN_POLL},
            name=f"fake-wechat-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.info("Fake WeChat listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving and release the port (does nothing when not running)."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None
        logger.info("Fake WeChat on port %s stopped", self.port)

    def __enter__(self) -> FakeWeChat:
        """Start the fake unless it runs already."""
        return self if self._server is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the fake."""
        self.stop()

    @property
    def base_url(self) -> str:
        """Return "http://HOST:PORT" of the running fake."""
        if self._server is None:
            raise RuntimeError("FakeWeChat is not running: call start() first")
        return f"http://{self.host}:{self.port}"

    def mount(self, session: requests.Session) -> requests.Session:
        """Redirect a session's requests for the WeChat/WeCom hosts to this fake."""
        adapter = _RedirectAdapter(self.base_url)
        for prefix in REAL_HOSTS:
            session.mount(prefix, adapter)
        return session

    # ----- inspection and control ------------------------------------------------------------

    @property
    def token_calls(self) -> int:
        """Return how many requests reached the three token endpoints (failed ones too)."""
        with self._lock:
            return sum(self.calls[path] for path in TOKEN_PATHS)

    def messages(self, api: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
        """Return copies of the accepted messages, filtered by api and target."""
        with self._lock:
            return [
                copy.deepcopy(item)
                for item in self.received
                if (api is None or item["api"] == api)
                and (target is None or item["target"] == target)
            ]

    def inject(
        self,
        path: str,
        *,
        errcode: int | None = None,
        errmsg: str = "",
        http_status: int | None = None,
        body: bytes | str | None = None,
        latency: float = 0.0,
        hold: float = 0.0,
        times: int | None = 1,
    ) -> None:
        """Queue a fault for requests to ``path`` ("*" for any), for ``times`` (None: always).

        ``latency`` delays a request before it is handled: nothing is accepted until then.
        ``hold`` is a stalled WeChat: the request is handled at once (a message is accepted
        and recorded) and its answer is held back ``hold`` seconds, so a client that gives up
        sooner never learns that the message went out.
        """
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for always")
        if latency < 0 or hold < 0:
            raise ValueError("latency and hold must not be negative")
        raw = body.encode("utf-8") if isinstance(body, str) else body
        fault = _Fault(path, errcode, errmsg, http_status, raw, float(latency), times, float(hold))
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    def revoke_tokens(self) -> None:
        """Invalidate every issued access token (next use answers 40001)."""
        with self._lock:
            for token in self._tokens.values():
                token.revoked = True
            self._stable_current = None
            self._corp_current = None

    def exhaust_quota(self) -> None:
        """Use up today's token quota (token calls answer 45009 until the next fake day)."""
        with self._lock:
            self._roll_quota_day()
            self._quota.used = self.token_quota

    def add_subscribe_credit(self, openid: str, template_id: str, n: int = 1) -> None:
        """Grant ``n`` subscribe-message credits, as if the user accepted ``n`` times."""
        with self._lock:
            self._credits[(openid, template_id)] += n

    def subscribe_credits(self, openid: str, template_id: str) -> int:
        """Return the subscribe-message credits left for (openid, template)."""
        with self._lock:
            return self._credits[(openid, template_id)]

    def issue_js_code(self, openid: str, unionid: str | None = None) -> str:
        """Issue a single-use wx.login code for ``openid`` (valid 300 s of fake time)."""
        code = secrets.token_hex(16)
        with self._lock:
            self._js_codes[code] = _JsCode(openid, unionid, self.clock.now() + JS_CODE_TTL)
        return code

    def qrcode_scene(self, ticket: str) -> str | None:
        """Return the scene of a live QR ticket (what a scan would carry), or None."""
        with self._lock:
            qrcode = self._qrcodes.get(ticket)
            if qrcode is None:
                return None
            if qrcode.expires_at is not None and self.clock.now() >= qrcode.expires_at:
                return None
            return qrcode.scene

    def reset(self) -> None:
        """Clear recordings, counters, faults, credits, quota use, codes and robot windows."""
        with self._lock:
            self.received.clear()
            self.calls.clear()
            self._faults.clear()
            self._credits.clear()
            self._js_codes.clear()
            self._robot_sent.clear()
            self._quota = _Quota()

    # ----- request plumbing ------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, body: bytes) -> _Response:
        """Answer one request: count it, apply a fault if one matches, then route it."""
        parts = urlsplit(raw_path)
        path = parts.path
        query = {
            key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()
        }
        with self._lock:
            self.calls[path] += 1
            fault = self._take_fault(path)
        response = None
        if fault is not None:
            if fault.latency > 0:
                time.sleep(fault.latency)
            response = fault.response()
        if response is None:
            with self._lock:
                response = self._dispatch(method, path, query, body)
        if fault is not None and fault.hold > 0:
            time.sleep(fault.hold)
        return response

    def _take_fault(self, path: str) -> _Fault | None:
        """Consume one use of the first fault matching ``path``."""
        for index, fault in enumerate(self._faults):
            if fault.path not in ("*", path):
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._faults[index]
            return fault
        return None

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes) -> _Response:
        """Route a request to its endpoint and encode the answer."""
        route = self._routes.get(path)
        if route is None:
            return _json_response({"errcode": -1, "errmsg": f"not found: {path}"}, 404)
        try:
            if method != route.method:
                raise _ApiError(43002 if route.method == "POST" else 43001)
            if route.token_family is not None:
                self._check_token(query.get("access_token", ""), route.token_family)
            result = route.handler(query, body)
        except _ApiError as error:
            logger.debug("Fake WeChat %s -> %s %s", path, error.errcode, error.errmsg)
            return _json_response({"errcode": error.errcode, "errmsg": error.errmsg})
        if isinstance(result, _Response):
            return result
        return _json_response(result)

    # ----- tokens ------------------------------------------------------------------------------

    def _check_token(self, value: str, family: str) -> None:
        """Require a live access token of ``family`` (40001 unknown/stale, 42001 expired)."""
        token = self._tokens.get(value) if value else None
        if token is None or token.family != family or token.revoked:
            raise _ApiError(40001)
        now = self.clock.now()
        if token.invalid_after is not None and now >= token.invalid_after:
            raise _ApiError(40001)
        if now >= token.expires_at:
            raise _ApiError(42001)

    def _issue_token(self, family: str) -> _Token:
        """Create and store a new token of ``family``."""
        now = self.clock.now()
        token = _Token(secrets.token_urlsafe(96), family, now, now + TOKEN_TTL)
        self._tokens[token.value] = token
        return token

    def _roll_quota_day(self) -> None:
        """Start a new quota day when the fake clock crossed Beijing midnight."""
        day = int((self.clock.now() + BEIJING_UTC_OFFSET) // DAY)
        if day != self._quota.day:
            self._quota = _Quota(day=day)

    def _use_quota(self) -> None:
        """Count one token call against today's quota (45009 when used up)."""
        self._roll_quota_day()
        if self._quota.used >= self.token_quota:
            raise _ApiError(45009)
        self._quota.used += 1

    def _check_app_credentials(self, appid: Any, secret: Any) -> None:
        """Require this app's appid (40013) and secret (40125)."""
        if not appid:
            raise _ApiError(41002)
        if appid != self.appid:
            raise _ApiError(40013)
        if not secret:
            raise _ApiError(41004)
        if secret != self.secret:
            raise _ApiError(40125)

    def _token(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Issue a new OA token; the previous ones stay valid 300 s more."""
        if query.get("grant_type") != "client_credential":
            raise _ApiError(40002)
        self._check_app_credentials(query.get("appid"), query.get("secret"))
        self._use_quota()
        now = self.clock.now()
        for token in self._tokens.values():
            # stable_token tokens live apart: a plain token call does not supersede them.
            superseded = token.family == "oa" and token is not self._stable_current
            if superseded and token.invalid_after is None:
                token.invalid_after = now + OLD_TOKEN_GRACE
        token = self._issue_token("oa")
        return {"access_token": token.value, "expires_in": TOKEN_TTL}

    def _stable_token(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Return the stable token, renewed 300 s before expiry or when forced."""
        data = _parse_json_body(body)
        if data.get("grant_type") != "client_credential":
            raise _ApiError(40002)
        self._check_app_credentials(data.get("appid"), data.get("secret"))
        force = data.get("force_refresh", False)
        if not isinstance(force, bool):
            raise _ApiError(47001)
        self._use_quota()
        now = self.clock.now()
        current = self._stable_current
        stale = (
            current is None or current.revoked or now >= current.expires_at - STABLE_REFRESH_MARGIN
        )
        if force or stale or current is None:
            if current is not None and current.invalid_after is None:
                current.invalid_after = now + OLD_TOKEN_GRACE
            current = self._issue_token("oa")
            self._stable_current = current
        return {"access_token": current.value, "expires_in": int(current.expires_at - now)}

    def _gettoken(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Return the WeCom token, the same one until it expires."""
        corp_id, corp_secret = query.get("corpid"), query.get("corpsecret")
        if not corp_id:
            raise _ApiError(41002, "corpid missing")
        if corp_id != self.corp_id:
            raise _ApiError(40013, "invalid corpid")
        if not corp_secret:
            raise _ApiError(41004, "corpsecret missing")
        if corp_secret != self.corp_secret:
            raise _ApiError(40001, "invalid credential")
        now = self.clock.now()
        current = self._corp_current
        if current is None or current.revoked or now >= current.expires_at:
            current = self._issue_token("corp")
            self._corp_current = current
        return _ok(access_token=current.value, expires_in=int(current.expires_at - now))

    # ----- official account and mini-program -------------------------------------------------

    def _qrcode_create(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Create a parametric QR code and remember ticket -> scene."""
        data = _parse_json_body(body)
        action = data.get("action_name")
        if action not in QR_TEMPORARY + QR_PERMANENT:
            raise _ApiError(40052)
        expires_at: float | None = None
        expire_seconds = QR_MAX_EXPIRE
        if action in QR_TEMPORARY:
            expire_seconds = data.get("expire_seconds", QR_DEFAULT_EXPIRE)
            if (
                isinstance(expire_seconds, bool)
                or not isinstance(expire_seconds, int)
                or not 0 < expire_seconds <= QR_MAX_EXPIRE
            ):
                raise _ApiError(47003, "argument invalid! expire_seconds invalid")
            expires_at = self.clock.now() + expire_seconds
        scene = self._qr_scene(action, data.get("action_info"))
        ticket = "gQ" + secrets.token_urlsafe(48)
        self._qrcodes[ticket] = _QrCode(scene, action, expires_at)
        answer: dict[str, Any] = {
            "ticket": ticket,
            "url": "http://weixin.qq.com/q/" + secrets.token_urlsafe(16),
        }
        if expires_at is not None:
            answer["expire_seconds"] = expire_seconds
        return answer

    @staticmethod
    def _qr_scene(action: str, action_info: Any) -> str:
        """Validate the scene of a QR code request and return it as a string."""
        scene = action_info.get("scene") if isinstance(action_info, dict) else None
        if not isinstance(scene, dict):
            raise _ApiError(40053)
        if action.endswith("STR_SCENE"):
            scene_str = scene.get("scene_str")
            if not isinstance(scene_str, str) or not 1 <= len(scene_str) <= SCENE_STR_MAX:
                raise _ApiError(40053)
            return scene_str
        scene_id = scene.get("scene_id")
        if isinstance(scene_id, bool) or not isinstance(scene_id, int):
            raise _ApiError(40053)
        valid = (
            1 <= scene_id <= QR_LIMIT_SCENE_MAX
            if action == "QR_LIMIT_SCENE"
            else scene_id != 0 and -(2**31) <= scene_id < 2**32
        )
        if not valid:
            raise _ApiError(40053)
        return str(scene_id)

    def _show_qrcode(self, query: dict[str, str], body: bytes) -> _Response:
        """Serve a placeholder image for a live ticket (404 otherwise)."""
        if self.qrcode_scene(query.get("ticket", "")) is None:
            return _Response(404, b"", "image/jpeg")
        return _Response(200, PIXEL_GIF, "image/gif")

    def _next_msgid(self) -> int:
        """Return a new message id."""
        self._msgid += 1
        return self._msgid

    def _record(self, api: str, target: str, body: dict[str, Any]) -> None:
        """Record one accepted outbound message (and log it, so the demo shows it)."""
        self.received.append({"api": api, "target": target, "body": body, "at": self.clock.now()})
        content = _preview(body)
        logger.info("fake WeChat accepted a %s message: %s", api, content)

    def _template_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Accept a template message (40003 openid, 40037 template, 47003 data)."""
        data = _parse_json_body(body)
        touser = data.get("touser")
        if not _looks_like_openid(touser):
            raise _ApiError(40003)
        template_id = data.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise _ApiError(40037)
        _check_template_data(data.get("data"))
        msgid = self._next_msgid()
        self._record("template", touser, data)
        return _ok(msgid=msgid)

    def _subscribe_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Accept a subscribe message when the user has a credit, consuming it (43101)."""
        data = _parse_json_body(body)
        touser = data.get("touser")
        if not _looks_like_openid(touser):
            raise _ApiError(40003)
        template_id = data.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise _ApiError(40037)
        _check_template_data(data.get("data"))
        state = data.get("miniprogram_state")
        if state is not None and state not in MINIPROGRAM_STATES:
            raise _ApiError(47003, "argument invalid! miniprogram_state invalid")
        lang = data.get("lang")
        if lang is not None and lang not in SUBSCRIBE_LANGS:
            raise _ApiError(47003, "argument invalid! lang invalid")
        key = (touser, template_id)
        if self._credits[key] <= 0:
            raise _ApiError(43101)
        self._credits[key] -= 1
        msgid = self._next_msgid()
        self._record("subscribe", touser, data)
        return _ok(msgid=msgid)

    def _fake_js_code(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Issue a wx.login code for ``openid`` over HTTP (the demo's stand-in for wx.login)."""
        openid = query.get("openid", "")
        if not 0 < len(openid) <= 64:
            raise _ApiError(40003)  # invalid openid
        return {"code": self.issue_js_code(openid)}

    def _jscode2session(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Exchange a single-use login code for the session (40029 bad, 40163 used)."""
        self._check_app_credentials(query.get("appid"), query.get("secret"))
        if query.get("grant_type") != "authorization_code":
            raise _ApiError(40002)
        code = query.get("js_code")
        if not code:
            raise _ApiError(41008)
        entry = self._js_codes.get(code)
        if entry is None:
            raise _ApiError(40029)
        if entry.used:
            raise _ApiError(40163)
        if self.clock.now() >= entry.expires_at:
            raise _ApiError(40029)
        entry.used = True
        answer: dict[str, Any] = {
            "openid": entry.openid,
            "session_key": base64.b64encode(secrets.token_bytes(16)).decode("ascii"),
        }
        if entry.unionid:
            answer["unionid"] = entry.unionid
        return answer

    # ----- WeCom ---------------------------------------------------------------------------------

    def _appchat_create(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Create an app group chat (at least two members) and return its chatid."""
        data = _parse_json_body(body)
        users = data.get("userlist")
        if not isinstance(users, list) or len(users) < 2:
            raise _ApiError(40058, "invalid parameter, userlist needs at least 2 members")
        chat_id = data.get("chatid") or secrets.token_hex(16)
        if not isinstance(chat_id, str):
            raise _ApiError(40058, "invalid parameter, chatid must be a string")
        self.chats[chat_id] = data
        return _ok(chatid=chat_id)

    def _appchat_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Accept a message to an app group chat."""
        data = _parse_json_body(body)
        chat_id = data.get("chatid")
        if not isinstance(chat_id, str) or not chat_id:
            raise _ApiError(86003)
        msgtype = data.get("msgtype")
        if msgtype not in APPCHAT_TYPES:
            raise _ApiError(40008)
        if msgtype in ("text", "markdown"):
            _check_content(data.get(msgtype), APPCHAT_CONTENT_MAX_BYTES)
        elif not isinstance(data.get(msgtype), dict):
            raise _ApiError(40058, f"invalid parameter, {msgtype} is not an object")
        self._record("appchat", chat_id, data)
        return _ok()

    def _wecom_user_known(self, userid: str) -> bool:
        """Tell whether a userid is in the app's visible range (userids ignore case)."""
        if self.wecom_users is None:
            return True
        return userid.lower() in {known.lower() for known in self.wecom_users}

    def _message_send(self, query: dict[str, str], body: bytes) -> dict[str, Any] | _Response:
        """Accept an app message to members by userid ("a|b"), recorded once per member.

        As WeCom does: userids outside the visible range come back in ``invaliduser`` (lower
        case, "|"-separated) while the others still get the message; when none is valid the
        call fails with 81013.
        """
        data = _parse_json_body(body)
        touser = data.get("touser")
        if not isinstance(touser, str) or not touser.strip("| "):
            raise _ApiError(40058, "invalid parameter, touser missing")
        agent_id = data.get("agentid")
        if not isinstance(agent_id, int) or isinstance(agent_id, bool):
            raise _ApiError(40056)
        msgtype = data.get("msgtype")
        if msgtype not in ("text", "markdown"):
            raise _ApiError(40008)
        _check_content(data.get(msgtype), APP_MESSAGE_MAX_BYTES)
        users = [u.strip() for u in touser.split("|") if u.strip()]
        known = [u for u in users if self._wecom_user_known(u)]
        invalid = "|".join(u.lower() for u in users if not self._wecom_user_known(u))
        if not known:
            return _json_response(
                {"errcode": 81013, "errmsg": ERRMSGS[81013], "invaliduser": invalid}
            )
        for userid in known:
            self._record("wecom_app", userid, data)
        return _ok(invaliduser=invalid, msgid=str(self._next_msgid()))

    def _robot_key_valid(self, key: str) -> bool:
        """Tell whether a group-robot key exists."""
        if self.robot_keys is None:
            return key.startswith("demo-")
        return key in self.robot_keys

    def _webhook_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Accept a group-robot message: byte limits, 20 per sliding 60 s per key."""
        key = query.get("key", "")
        if not key or not self._robot_key_valid(key):
            raise _ApiError(93000)
        data = _parse_json_body(body)
        msgtype = data.get("msgtype")
        if msgtype == "text":
            section = data.get("text")
            _check_content(section, ROBOT_TEXT_MAX_BYTES)
            _check_string_list(section, "mentioned_list")
            _check_string_list(section, "mentioned_mobile_list")
        elif msgtype == "markdown":
            _check_content(data.get("markdown"), ROBOT_MARKDOWN_MAX_BYTES)
        else:
            raise _ApiError(40008)
        now = self.clock.now()
        recent = [at for at in self._robot_sent.get(key, []) if now - ROBOT_WINDOW < at <= now]
        if len(recent) >= ROBOT_LIMIT:
            self._robot_sent[key] = recent
            raise _ApiError(45009, "api freq out of limit")
        recent.append(now)
        self._robot_sent[key] = recent
        self._record("robot", key, data)
        return _ok()


def _preview(body: dict[str, Any]) -> str:
    """The readable part of an accepted message, for the log (no keys: targets are omitted)."""
    for kind in ("text", "markdown"):
        part = body.get(kind)
        if isinstance(part, dict) and isinstance(part.get("content"), str):
            return part["content"]
    data = body.get("data")
    if isinstance(data, dict):
        return " | ".join(
            str(v.get("value")) for v in data.values() if isinstance(v, dict) and "value" in v
        )
    return ""


def main(argv: list[str] | None = None) -> int:
    """Run the fake alone until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.fake", description="Serve a local fake WeChat / WeCom API."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8910)
    parser.add_argument("--appid", default="wxdemoappid000001")
    parser.add_argument("--secret", default="demo-secret")
    parser.add_argument("--corp-id", default="wwdemocorp")
    parser.add_argument("--corp-secret", default="demo-corp-secret")
    parser.add_argument(
        "--robot-key",
        action="append",
        dest="robot_keys",
        help="valid group-robot key (repeatable; default: any 'demo-' key)",
    )
    parser.add_argument("--token-quota", type=int, default=2000)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    fake = FakeWeChat(
        host=args.host,
        port=args.port,
        appid=args.appid,
        secret=args.secret,
        corp_id=args.corp_id,
        corp_secret=args.corp_secret,
        robot_keys=args.robot_keys,
        token_quota=args.token_quota,
    )
    fake.start()
    sys.stdout.write(fake.base_url + "\n")
    sys.stdout.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        logger.info("Interrupted, stopping")
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
