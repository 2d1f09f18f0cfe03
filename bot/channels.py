"""Push channel adapters: WeCom robot and app, template and subscribe messages, the console.

Every channel has one interface: ``messages(payload, address)`` turns an outbox payload into
the wire messages (long texts split to fit the byte limits), ``post(message, address)`` makes
one call, and ``send(payload, address)`` does both. Every failure is a ``ChannelError`` saying
whether retrying may help (``retryable``) and, for rate limits, after how long
(``retry_after``). Error texts never carry a robot key, chat id, token or secret.

Delivery is at least once: no send carries an idempotency key (WeChat has none for template,
subscribe, robot or app-chat messages), so a send whose answer is lost is sent again. A lost
answer is either a failed connect, which sent nothing (safe to retry), or a read timeout after
WeChat took the message: the one way to a duplicate. ``outbox.read_timeout_seconds`` (15 s by
default) outlasts WeChat's stalls, so a 5 s stall duplicates nothing.

``ADAPTERS`` maps each channel kind to its adapter class; whoever starts a drain (the
``outbox drain`` command, the scheduler's ``outbox_drain`` job) hands it to
``handlers.outbox.drain``, which claims, paces and records (see handlers/outbox/).
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import requests

from bot.clients import WeChatApiError, official_client, work_client
from core.clock import utcnow
from core.config import ConfigError, Settings
from handlers import outbox
from handlers.outbox import Address, ChannelError
from models.outbox import BranchChannel

log = logging.getLogger(__name__)

Payload = Mapping[str, Any]

ROBOT_TEXT_MAX_BYTES = 2048
ROBOT_MARKDOWN_MAX_BYTES = 4096
APP_MAX_BYTES = 2048  # WeCom app messages and app chats, text and markdown
TEMPLATE_VALUE_MAX_CHARS = 180
SUBSCRIBE_THING_MAX_CHARS = 20  # a subscribe message's "thing" values
# A message longer than this many parts is cut (with CUT_NOTE): a robot takes only 20 a minute.
MAX_PARTS = 5
SPLIT_NOTE = "（内容较长，已分条发送 {i}/{n}）"
CUT_NOTE = "……（内容过长，其余从略）"

# Errcodes retrying cannot mend, with what the secretary is told.
PERMANENT_ERRORS: dict[int, str] = {
    93000: "机器人已被移除或 key 无效",
    86003: "群聊不存在（应用群聊须由本应用创建）",
    40003: "接收人的 openid 无效",
    40037: "模板 ID 无效",
    47003: "模板数据不符合要求",
    43101: "对方没有订阅消息额度",
    44004: "消息内容为空",
    40058: "消息参数不合格（例如超长）",
    40008: "消息类型不合格",
    60111: "企业微信账号不存在",
    81013: "企业微信成员不在应用的可见范围内",
}
ROBOT_RATE_LIMITED = 45009


def _errcode_error(
    what: str, errcode: int, errmsg: str, *, rate_after: float | None = None
) -> ChannelError:
    """Classify an errcode answer: rate limited, permanent (with a notice), or retryable."""
    message = f"{what}: errcode {errcode}: {errmsg}"[:300]
    if errcode == ROBOT_RATE_LIMITED and rate_after is not None:
        return ChannelError(
            message, retryable=True, retry_after=rate_after, errcode=errcode, rate_limited=True
        )
    if errcode in PERMANENT_ERRORS:
        return ChannelError(
            message, retryable=False, errcode=errcode, notice=PERMANENT_ERRORS[errcode]
        )
    return ChannelError(message, retryable=True, errcode=errcode)


def _api_error(what: str, exc: WeChatApiError) -> ChannelError:
    """Map a client error (already free of tokens and secrets) to a ChannelError."""
    if exc.errcode is None:
        return ChannelError(f"{what}: {exc.errmsg}"[:300], retryable=True)
    return _errcode_error(what, exc.errcode, exc.errmsg)


# ----- splitting ---------------------------------------------------------------------------


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _hard_split(line: str, budget: int) -> list[str]:
    """Cut one over-long line into pieces of at most ``budget`` bytes, between characters."""
    if utf8_len(line) <= budget:
        return [line]
    pieces, current, size = [], [], 0
    for char in line:
        width = utf8_len(char)
        if size + width > budget:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return pieces


def split_content(
    content: str, limit: int, *, reserve: int = 0, max_parts: int = MAX_PARTS
) -> list[str]:
    """Split ``content`` into parts of at most ``limit - reserve`` UTF-8 bytes each.

    A text that fits is returned whole. Otherwise it is cut at line ends (a line longer than a
    part at character boundaries, never inside a character), each part ending with
    "（内容较长，已分条发送 i/n）"; beyond ``max_parts`` the rest is dropped with a note.
    """
    if utf8_len(content) + reserve <= limit:
        return [content]
    note = utf8_len("\n" + SPLIT_NOTE.format(i=max_parts, n=max_parts))
    budget = limit - reserve - note - utf8_len("\n" + CUT_NOTE)
    if budget < 16:
        raise ValueError(f"limit {limit} leaves no room for content")
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    for line in content.split("\n"):
        for piece in _hard_split(line, budget):
            width = utf8_len(piece)
            if current and size + 1 + width > budget:
                chunks.append(current)
                current, size = [], 0
            size = width if not current else size + 1 + width
            current.append(piece)
    chunks.append(current)
    cut = len(chunks) > max_parts
    chunks = chunks[:max_parts]
    total = len(chunks)
    parts = []
    for index, lines in enumerate(chunks, start=1):
        body = "\n".join(lines)
        if cut and index == total:
            body += "\n" + CUT_NOTE
        parts.append(body + "\n" + SPLIT_NOTE.format(i=index, n=total))
    return parts


def _shorten(text: str, max_chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


# ----- channels ----------------------------------------------------------------------------


def request_timeouts(settings: Settings) -> tuple[float, float]:
    """Return the (connect, read) timeouts of one send, as requests takes them."""
    cfg = settings.outbox
    return float(cfg.connect_timeout_seconds), float(cfg.read_timeout_seconds)


class Channel(ABC):
    """Send outbox payloads of one kind; subclasses implement ``messages`` and ``post``."""

    kind = ""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = request_timeouts(settings)

    @abstractmethod
    def messages(self, payload: Payload, address: Address) -> list[dict[str, Any]]:
        """Return the wire messages for a payload (several when it must be split)."""

    @abstractmethod
    def post(self, message: dict[str, Any], address: Address) -> None:
        """Send one wire message; raise ChannelError when it was not accepted."""

    def send(self, payload: Payload, address: Address) -> None:
        """Send a payload: every part, in order."""
        for message in self.messages(payload, address):
            self.post(message, address)


def _text(payload: Payload) -> str:
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ChannelError("payload has no text", retryable=False, notice="消息内容为空")
    return text


class WeComRobot(Channel):
    """A WeCom group robot webhook: text with @mentions, or markdown; 20 a minute per key."""

    kind = "wecom_robot"

    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        super().__init__(settings)
        self.url = settings.channels.wecom_api_base_url.rstrip("/") + "/cgi-bin/webhook/send"
        self.rest_seconds = float(settings.outbox.robot_backoff_seconds)
        self.session = session or requests.Session()
        # Proxy settings from the environment, looked up once instead of on every request
        # (requests re-reads them per call: a third of its CPU time per message).
        self.session.proxies.update(requests.utils.get_environ_proxies(self.url))
        self.session.trust_env = False

    def messages(self, payload: Payload, address: Address) -> list[dict[str, Any]]:
        text = _text(payload)
        if payload.get("format") == "markdown":
            tags = "".join(f"<@{u}>" for u in address.mentioned_userids if u != "@all")
            suffix = "\n" + tags if tags else ""
            parts = split_content(text, ROBOT_MARKDOWN_MAX_BYTES, reserve=utf8_len(suffix))
            parts[0] += suffix
            return [{"msgtype": "markdown", "markdown": {"content": p}} for p in parts]
        parts = split_content(text, ROBOT_TEXT_MAX_BYTES)
        messages: list[dict[str, Any]] = [
            {"msgtype": "text", "text": {"content": p}} for p in parts
        ]
        # Mentions ride on the first part only: nobody is pinged once per part.
        if address.mentioned_userids:
            messages[0]["text"]["mentioned_list"] = list(address.mentioned_userids)
        if address.mentioned_mobiles:
            messages[0]["text"]["mentioned_mobile_list"] = list(address.mentioned_mobiles)
        return messages

    def post(self, message: dict[str, Any], address: Address) -> None:
        body = json.dumps(message, ensure_ascii=False).encode("utf-8")
        try:
            res = self.session.post(
                self.url,
                params={"key": address.target},
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.timeout,
            )
        except requests.ConnectTimeout:
            # Never quote the exception: its text holds the URL, and the URL holds the key.
            raise ChannelError(
                f"robot: no connection within {self.timeout[0]:g} s (nothing sent)",
                retryable=True,
            ) from None
        except requests.Timeout:
            # The message went out: WeCom may have posted it, and the retry may repeat it.
            raise ChannelError(
                f"robot: no answer within {self.timeout[1]:g} s", retryable=True
            ) from None
        except requests.RequestException as exc:
            raise ChannelError(
                f"robot: request failed ({type(exc).__name__})", retryable=True
            ) from None
        if res.status_code >= 400:
            raise ChannelError(f"robot: HTTP {res.status_code}", retryable=True)
        try:
            answer = res.json()
        except ValueError:
            raise ChannelError("robot: answer is not JSON", retryable=True) from None
        if not isinstance(answer, dict):
            raise ChannelError("robot: answer is not a JSON object", retryable=True)
        errcode = answer.get("errcode", 0)
        if not isinstance(errcode, int) or isinstance(errcode, bool):
            raise ChannelError("robot: answer has a malformed errcode", retryable=True)
        if errcode:
            errmsg = str(answer.get("errmsg", "")).replace(address.target, "***")
            raise _errcode_error("robot", errcode, errmsg, rate_after=self.rest_seconds)


class WeComApp(Channel):
    """A WeCom app: a message to one member by userid, or to an app group chat (appchat)."""

    kind = "wecom_app"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        channels = settings.channels
        if not channels.wecom_corp_id or not channels.wecom_corp_secret:
            raise ChannelError(
                "WeCom app not configured (channels.wecom_corp_id / wecom_corp_secret)",
                retryable=True,
            )
        self.agent_id = channels.wecom_agent_id
        self.client = work_client(
            settings,
            channels.wecom_corp_id,
            channels.wecom_corp_secret,
            base_url=channels.wecom_api_base_url,
            timeout=self.timeout,
        )

    def messages(self, payload: Payload, address: Address) -> list[dict[str, Any]]:
        msgtype = "markdown" if payload.get("format") == "markdown" else "text"
        parts = split_content(_text(payload), APP_MAX_BYTES)
        return [{"msgtype": msgtype, msgtype: {"content": p}} for p in parts]

    def post(self, message: dict[str, Any], address: Address) -> None:
        if address.channel == "wecom_appchat":
            what, endpoint = "appchat", "appchat/send"
            data = {"chatid": address.target, "safe": 0, **message}
        else:
            what, endpoint = "app message", "message/send"
            data = {"touser": address.target, "agentid": self.agent_id, "safe": 0, **message}
        try:
            answer = self.client.post(endpoint, data=data)
        except WeChatApiError as exc:
            raise _api_error(what, exc) from None
        if isinstance(answer, dict) and answer.get("invaliduser"):
            raise ChannelError(
                f"{what}: recipient not in the app's visible range",
                retryable=False,
                errcode=81013,
                notice=PERMANENT_ERRORS[81013],
            )


class TemplateMessage(Channel):
    """An official-account template message to a follower's openid."""

    kind = "template"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.client = official_client(settings, timeout=self.timeout)

    def messages(self, payload: Payload, address: Address) -> list[dict[str, Any]]:
        text = _text(payload)
        data = payload.get("template_data")
        if not isinstance(data, dict):
            title = payload.get("title") or _shorten(text, 20)
            data = {
                "first": {"value": str(title)},
                "keyword1": {"value": _shorten(text, TEMPLATE_VALUE_MAX_CHARS)},
            }
        message: dict[str, Any] = {"template_id": address.template_id, "data": data}
        if isinstance(payload.get("url"), str) and payload["url"]:
            message["url"] = payload["url"]
        return [message]

    def post(self, message: dict[str, Any], address: Address) -> None:
        try:
            self.client.post("message/template/send", data={"touser": address.target, **message})
        except WeChatApiError as exc:
            raise _api_error("template message", exc) from None


class SubscribeMessage(Channel):
    """A mini-program subscribe message: one per credit the member granted by accepting.

    Sent with the account in [wechat]: a mini-program with its own AppID would need its own
    client settings. ``send`` spends a credit first (atomically); the drain spends it in
    ``handlers.outbox.begin_part`` instead, once per row however often the row is retried.
    """

    kind = "subscribe"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.state = settings.channels.miniprogram_state
        self.client = official_client(settings, timeout=self.timeout)

    def messages(self, payload: Payload, address: Address) -> list[dict[str, Any]]:
        text = _text(payload)
        data = payload.get("subscribe_data")
        if not isinstance(data, dict):
            title = str(payload.get("title") or text)
            data = {
                "thing1": {"value": _shorten(title, SUBSCRIBE_THING_MAX_CHARS)},
                "thing2": {"value": _shorten(text, SUBSCRIBE_THING_MAX_CHARS)},
            }
        message: dict[str, Any] = {
            "template_id": address.template_id,
            "data": data,
            "miniprogram_state": self.state,
            "lang": "zh_CN",
        }
        if isinstance(payload.get("page"), str) and payload["page"]:
            message["page"] = payload["page"]
        return [message]

    def post(self, message: dict[str, Any], address: Address) -> None:
        try:
            self.client.post("message/subscribe/send", data={"touser": address.target, **message})
        except WeChatApiError as exc:
            raise _api_error("subscribe message", exc) from None

    def send(self, payload: Payload, address: Address) -> None:
        messages = self.messages(payload, address)
        if not outbox.take_subscribe_credit(address.target, address.template_id, utcnow()):
            raise ChannelError(
                "subscribe message: no credit", retryable=False, notice=PERMANENT_ERRORS[43101]
            )
        for message in messages:
            self.post(message, address)


class ConsoleChannel(Channel):
    """Write messages to the log (the demo); the outbox row is the database record."""

    kind = "console"

    def messages(self, payload: Payload, address: Address) -> list[dict[str, Any]]:
        return [{"content": _text(payload)}]

    def post(self, message: dict[str, Any], address: Address) -> None:
        log.info("Console message to %s:\n%s", address.label, message["content"])


# Channel kind (``Address.channel``) -> the adapter's class, for handlers.outbox.drain.
ADAPTERS: dict[str, Callable[[Settings], Channel]] = {
    "wecom_robot": WeComRobot,
    "wecom_app": WeComApp,
    "wecom_appchat": WeComApp,
    "template": TemplateMessage,
    "subscribe": SubscribeMessage,
    "console": ConsoleChannel,
}


def check_channel_settings(settings: Settings) -> list[str]:
    """Stop start-up (ConfigError) when a configured channel lacks a setting; return warnings.

    For the scheduler's start-up: a branch on a WeCom app chat needs the WeCom app settings.
    """
    channels = settings.channels
    if channels.wecom_corp_id and not channels.wecom_corp_secret:
        raise ConfigError("channels.wecom_corp_secret", "required when wecom_corp_id is set")
    appchats = BranchChannel.select().where(BranchChannel.kind == "wecom_appchat").count()
    if appchats and not channels.wecom_corp_id:
        raise ConfigError(
            "channels.wecom_corp_id",
            f"required: {appchats} branch(es) send to a WeCom app chat (wecom_appchat)",
        )
    warnings = []
    if channels.wecom_corp_id and not channels.wecom_agent_id:
        warnings.append("channels.wecom_agent_id is 0: no WeCom app messages to members")
    return warnings
