"""Serve a local fake of the WeChat and WeCom HTTP APIs for tests, the demo and the CLI.

One real HTTP server on 127.0.0.1 answers the official-account, mini-program and WeCom
endpoints zhibu uses (WeCom: gettoken, app chats, app messages to members, group robots), with
the real error codes, limits and timing rules (token grace and expiry, daily token quota,
single-use login codes, one-time subscribe credits, ``invaliduser`` for app-message recipients
outside the app's visible range, robot byte limits and the 20-a-minute window), and WeChat Pay
API v3 (bot/fake/pay.py: prepay, query, close, refund, the trade bill, signed and encrypted
notifications with their retries). Time is a
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
import logging
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from bot.fake.pay import PayEndpoints
from bot.fake.records import (
    JS_CODE_TTL,
    MINIPROGRAM_STATES,
    PIXEL_GIF,
    QR_DEFAULT_EXPIRE,
    QR_LIMIT_SCENE_MAX,
    QR_MAX_EXPIRE,
    QR_PERMANENT,
    QR_TEMPORARY,
    REAL_HOSTS,
    SCENE_STR_MAX,
    SHUTDOWN_POLL,
    SUBSCRIBE_LANGS,
    TOKEN_PATHS,
    ApiError,
    FakeClock,
    Fault,
    JsCode,
    QrCode,
    Quota,
    Response,
    Route,
    Token,
    check_template_data,
    json_response,
    looks_like_openid,
    ok,
    parse_json_body,
)
from bot.fake.server import FakeServer, RedirectAdapter
from bot.fake.tokens import TokenEndpoints
from bot.fake.wecom import WeComEndpoints

__all__ = ["FakeClock", "FakeWeChat", "main"]

logger = logging.getLogger("bot.fake")  # the package's one logger, whichever module logs


class FakeWeChat(TokenEndpoints, WeComEndpoints, PayEndpoints):
    """Fake the WeChat official-account, mini-program, WeCom and WeChat Pay APIs over HTTP."""

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
        self._tokens: dict[str, Token] = {}
        self._stable_current: Token | None = None
        self._corp_current: Token | None = None
        self._quota = Quota()
        self._faults: list[Fault] = []
        self._credits: Counter[tuple[str, str]] = Counter()
        self._js_codes: dict[str, JsCode] = {}
        self._qrcodes: dict[str, QrCode] = {}
        self._robot_sent: dict[str, list[float]] = {}
        self._msgid = 2_000_000_000
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None
        self._routes = self._route_table()
        self._init_pay()

    def _route_table(self) -> dict[str, Route]:
        """Map each served path to its method, endpoint and the token family it requires."""
        return {
            "/cgi-bin/token": Route("GET", self._token),
            "/cgi-bin/stable_token": Route("POST", self._stable_token),
            "/cgi-bin/qrcode/create": Route("POST", self._qrcode_create, "oa"),
            "/cgi-bin/showqrcode": Route("GET", self._show_qrcode),
            "/cgi-bin/message/template/send": Route("POST", self._template_send, "oa"),
            "/cgi-bin/message/subscribe/send": Route("POST", self._subscribe_send, "oa"),
            "/sns/jscode2session": Route("GET", self._jscode2session),
            # Not WeChat's: what wx.login does in the mini-program, for the demo's
            # simulate-login (a single-use code for ?openid=).
            "/fake/js_code": Route("POST", self._fake_js_code),
            # Not WeChat's either: the payer paying an order (?out_trade_no=), for simulate-pay.
            "/fake/pay": Route("POST", self._fake_pay),
            "/cgi-bin/gettoken": Route("GET", self._gettoken),
            "/cgi-bin/appchat/create": Route("POST", self._appchat_create, "corp"),
            "/cgi-bin/appchat/send": Route("POST", self._appchat_send, "corp"),
            "/cgi-bin/message/send": Route("POST", self._message_send, "corp"),
            "/cgi-bin/webhook/send": Route("POST", self._webhook_send),
        }

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeWeChat:
        """Start serving in a background thread and return self."""
        if self._server is not None:
            raise RuntimeError("FakeWeChat is already running")
        server = FakeServer((self.host, self.port), self)
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
        adapter = RedirectAdapter(self.base_url)
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
        fault = Fault(path, errcode, errmsg, http_status, raw, float(latency), times, float(hold))
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
            self._js_codes[code] = JsCode(openid, unionid, self.clock.now() + JS_CODE_TTL)
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
            self._quota = Quota()

    # ----- request plumbing ------------------------------------------------------------------

    def handle(
        self, method: str, raw_path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> Response:
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
                if path.startswith("/v3/"):  # WeChat Pay API v3
                    response = self._pay_handle(method, raw_path, path, query, body, headers or {})
                else:
                    response = self._dispatch(method, path, query, body)
        if fault is not None and fault.hold > 0:
            time.sleep(fault.hold)
        return response

    def _take_fault(self, path: str) -> Fault | None:
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

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: bytes) -> Response:
        """Route a request to its endpoint and encode the answer."""
        route = self._routes.get(path)
        if route is None:
            return json_response({"errcode": -1, "errmsg": f"not found: {path}"}, 404)
        try:
            if method != route.method:
                raise ApiError(43002 if route.method == "POST" else 43001)
            if route.token_family is not None:
                self._check_token(query.get("access_token", ""), route.token_family)
            result = route.handler(query, body)
        except ApiError as error:
            logger.debug("Fake WeChat %s -> %s %s", path, error.errcode, error.errmsg)
            return json_response({"errcode": error.errcode, "errmsg": error.errmsg})
        if isinstance(result, Response):
            return result
        return json_response(result)

    # ----- official account and mini-program -------------------------------------------------

    def _qrcode_create(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Create a parametric QR code and remember ticket -> scene."""
        data = parse_json_body(body)
        action = data.get("action_name")
        if action not in QR_TEMPORARY + QR_PERMANENT:
            raise ApiError(40052)
        expires_at: float | None = None
        expire_seconds = QR_MAX_EXPIRE
        if action in QR_TEMPORARY:
            expire_seconds = data.get("expire_seconds", QR_DEFAULT_EXPIRE)
            if (
                isinstance(expire_seconds, bool)
                or not isinstance(expire_seconds, int)
                or not 0 < expire_seconds <= QR_MAX_EXPIRE
            ):
                raise ApiError(47003, "argument invalid! expire_seconds invalid")
            expires_at = self.clock.now() + expire_seconds
        scene = self._qr_scene(action, data.get("action_info"))
        ticket = "gQ" + secrets.token_urlsafe(48)
        self._qrcodes[ticket] = QrCode(scene, action, expires_at)
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
            raise ApiError(40053)
        if action.endswith("STR_SCENE"):
            scene_str = scene.get("scene_str")
            if not isinstance(scene_str, str) or not 1 <= len(scene_str) <= SCENE_STR_MAX:
                raise ApiError(40053)
            return scene_str
        scene_id = scene.get("scene_id")
        if isinstance(scene_id, bool) or not isinstance(scene_id, int):
            raise ApiError(40053)
        valid = (
            1 <= scene_id <= QR_LIMIT_SCENE_MAX
            if action == "QR_LIMIT_SCENE"
            else scene_id != 0 and -(2**31) <= scene_id < 2**32
        )
        if not valid:
            raise ApiError(40053)
        return str(scene_id)

    def _show_qrcode(self, query: dict[str, str], body: bytes) -> Response:
        """Serve a placeholder image for a live ticket (404 otherwise)."""
        if self.qrcode_scene(query.get("ticket", "")) is None:
            return Response(404, b"", "image/jpeg")
        return Response(200, PIXEL_GIF, "image/gif")

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
        data = parse_json_body(body)
        touser = data.get("touser")
        if not looks_like_openid(touser):
            raise ApiError(40003)
        template_id = data.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise ApiError(40037)
        check_template_data(data.get("data"))
        msgid = self._next_msgid()
        self._record("template", touser, data)
        return ok(msgid=msgid)

    def _subscribe_send(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Accept a subscribe message when the user has a credit, consuming it (43101)."""
        data = parse_json_body(body)
        touser = data.get("touser")
        if not looks_like_openid(touser):
            raise ApiError(40003)
        template_id = data.get("template_id")
        if not isinstance(template_id, str) or not template_id:
            raise ApiError(40037)
        check_template_data(data.get("data"))
        state = data.get("miniprogram_state")
        if state is not None and state not in MINIPROGRAM_STATES:
            raise ApiError(47003, "argument invalid! miniprogram_state invalid")
        lang = data.get("lang")
        if lang is not None and lang not in SUBSCRIBE_LANGS:
            raise ApiError(47003, "argument invalid! lang invalid")
        key = (touser, template_id)
        if self._credits[key] <= 0:
            raise ApiError(43101)
        self._credits[key] -= 1
        msgid = self._next_msgid()
        self._record("subscribe", touser, data)
        return ok(msgid=msgid)

    def _fake_js_code(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Issue a wx.login code for ``openid`` over HTTP (the demo's stand-in for wx.login)."""
        openid = query.get("openid", "")
        if not 0 < len(openid) <= 64:
            raise ApiError(40003)  # invalid openid
        return {"code": self.issue_js_code(openid)}

    def _jscode2session(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Exchange a single-use login code for the session (40029 bad, 40163 used)."""
        self._check_app_credentials(query.get("appid"), query.get("secret"))
        if query.get("grant_type") != "authorization_code":
            raise ApiError(40002)
        code = query.get("js_code")
        if not code:
            raise ApiError(41008)
        entry = self._js_codes.get(code)
        if entry is None:
            raise ApiError(40029)
        if entry.used:
            raise ApiError(40163)
        if self.clock.now() >= entry.expires_at:
            raise ApiError(40029)
        entry.used = True
        answer: dict[str, Any] = {
            "openid": entry.openid,
            "session_key": base64.b64encode(secrets.token_bytes(16)).decode("ascii"),
        }
        if entry.unionid:
            answer["unionid"] = entry.unionid
        return answer


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
    try:  # a Ctrl-C as soon as the address is out (a script reading it) still stops cleanly
        sys.stdout.write(fake.base_url + "\n")
        sys.stdout.flush()
        threading.Event().wait()
    except KeyboardInterrupt:
        logger.info("Interrupted, stopping")
    finally:
        fake.stop()
    return 0
