"""Push channels (WeCom robot and app, template and subscribe messages, console) and the drain.

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

``drain(settings)`` is the one function the scheduler calls: it claims due outbox rows, sends
each through its channel (paced per robot key through the database, so drainers in several
processes together stay under the limit), and records the outcome. See handlers/outbox.py for
the states and for why a crash loses nothing.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

from bot.clients import WeChatApiError, official_client, work_client
from core.clock import utcnow
from core.config import ConfigError
from handlers import outbox
from handlers.outbox import Address, Skip
from models.base import db
from models.outbox import BranchChannel, OutboxMessage

log = logging.getLogger(__name__)

Settings = Mapping[str, Mapping[str, Any]]
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


class ChannelError(Exception):
    """A send failed; ``retryable`` tells whether a later attempt may succeed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        errcode: int | None = None,
        notice: str | None = None,
        rate_limited: bool = False,
    ) -> None:
        """Keep an English message without secrets, and the Chinese notice for the secretary."""
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.errcode = errcode
        self.notice = notice
        self.rate_limited = rate_limited


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
    cfg = settings["outbox"]
    return float(cfg["connect_timeout_seconds"]), float(cfg["read_timeout_seconds"])


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
        self.url = settings["channels"]["wecom_api_base_url"].rstrip("/") + "/cgi-bin/webhook/send"
        self.rest_seconds = float(settings["outbox"]["robot_backoff_seconds"])
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
        channels = settings["channels"]
        if not channels["wecom_corp_id"] or not channels["wecom_corp_secret"]:
            raise ChannelError(
                "WeCom app not configured (channels.wecom_corp_id / wecom_corp_secret)",
                retryable=True,
            )
        self.agent_id = channels["wecom_agent_id"]
        self.client = work_client(
            settings,
            channels["wecom_corp_id"],
            channels["wecom_corp_secret"],
            base_url=channels["wecom_api_base_url"],
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
        self.state = settings["channels"]["miniprogram_state"]
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


def build_channel(kind: str, settings: Settings) -> Channel:
    """Return a channel for a GROUP_KINDS or PERSONAL_KINDS kind."""
    if kind == "wecom_robot":
        return WeComRobot(settings)
    if kind in ("wecom_app", "wecom_appchat"):
        return WeComApp(settings)
    if kind == "template":
        return TemplateMessage(settings)
    if kind == "subscribe":
        return SubscribeMessage(settings)
    if kind == "console":
        return ConsoleChannel(settings)
    raise ChannelError(f"unknown channel kind {kind!r}", retryable=False, notice="未知的通知渠道")


def check_channel_settings(settings: Settings) -> list[str]:
    """Stop start-up (ConfigError) when a configured channel lacks a setting; return warnings.

    For the scheduler's start-up: a branch on a WeCom app chat needs the WeCom app settings.
    """
    channels = settings["channels"]
    if channels["wecom_corp_id"] and not channels["wecom_corp_secret"]:
        raise ConfigError("channels.wecom_corp_secret", "required when wecom_corp_id is set")
    appchats = BranchChannel.select().where(BranchChannel.kind == "wecom_appchat").count()
    if appchats and not channels["wecom_corp_id"]:
        raise ConfigError(
            "channels.wecom_corp_id",
            f"required: {appchats} branch(es) send to a WeCom app chat (wecom_appchat)",
        )
    warnings = []
    if channels["wecom_corp_id"] and not channels["wecom_agent_id"]:
        warnings.append("channels.wecom_agent_id is 0: no WeCom app messages to members")
    return warnings


# ----- the drain ---------------------------------------------------------------------------


@dataclass
class DrainReport:
    """What one drain call did: rows sent, failed (to retry), dead, deferred and skipped."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0  # put back without counting an attempt (rate window, 45009, time up)
    skipped: int = 0  # nowhere to send (no channel, no subscribe credit)

    def __str__(self) -> str:
        return (
            f"sent {self.sent}, failed {self.failed}, dead {self.dead}, "
            f"deferred {self.deferred}, skipped {self.skipped}"
        )


class Clock:
    """The drain's time: ``now`` (aware UTC) and ``sleep``; real time, optionally shifted."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = (start - utcnow()) if start is not None else timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self._offset

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


# Called at each step of a send: "claimed" (the row is claimed), "answered" (the channel
# answered, nothing recorded yet), "recorded" (the outcome is committed). For tests that kill
# the process at each step; None in production.
Hook = Callable[[str, OutboxMessage], None]


class _Drain:
    """One drain call: the batch loop, the lanes and the per-row send."""

    def __init__(
        self, settings: Settings, clock: Clock, deadline: datetime, hook: Hook | None
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.deadline = deadline
        self.hook = hook
        self.report = DrainReport()
        self._lock = threading.Lock()
        self._local = threading.local()

    def count(self, **deltas: int) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self.report, name, getattr(self.report, name) + value)

    def step(self, name: str, row: OutboxMessage) -> None:
        if self.hook is not None:
            self.hook(name, row)

    def channel(self, kind: str) -> Channel:
        """Return this thread's channel of ``kind`` (HTTP sessions are not shared by threads)."""
        cache = getattr(self._local, "channels", None)
        if cache is None:
            cache = self._local.channels = {}
        if kind not in cache:
            cache[kind] = build_channel(kind, self.settings)
        return cache[kind]

    # -- the loop --

    def run(self) -> DrainReport:
        outbox.prune_rate_events(self.clock.now(), self.settings)
        batch_size = self.settings["outbox"]["batch_size"]
        while True:
            now = self.clock.now()
            if now >= self.deadline:
                break
            rows = outbox.claim(now, batch_size, self.settings)
            if rows:
                for row in rows:
                    self.step("claimed", row)
                self.run_batch(rows)
                continue
            due = outbox.next_due(now, self.settings)
            if due is None or due >= self.deadline:
                break
            self.clock.sleep((due - now).total_seconds())
        return self.report

    def run_batch(self, rows: list[OutboxMessage]) -> None:
        addresses = outbox.resolve_addresses(rows, self.settings)
        lanes: dict[str, list[tuple[OutboxMessage, Address]]] = {}
        for row in rows:
            address = addresses[row.id]
            if isinstance(address, Skip):
                if outbox.skip(row, address.reason, self.clock.now()):
                    self.count(skipped=1)
                    log.info("Outbox row %s (%s) skipped: %s", row.id, row.kind, address.reason)
                continue
            lanes.setdefault(address.lane, []).append((row, address))
        workers = min(self.settings["outbox"]["concurrency"], len(lanes))
        if workers <= 1:
            for lane in lanes.values():
                self.run_lane(lane)
            return
        work: queue.SimpleQueue[list[tuple[OutboxMessage, Address]]] = queue.SimpleQueue()
        for lane in lanes.values():
            work.put(lane)

        def worker() -> None:
            with db.connection_context():  # each thread its own connection
                while True:
                    try:
                        lane = work.get_nowait()
                    except queue.Empty:
                        return
                    self.run_lane(lane)

        threads = [
            threading.Thread(target=worker, name=f"outbox-drain-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def run_lane(self, lane: list[tuple[OutboxMessage, Address]]) -> None:
        """Send one lane's rows in order; hold the rest back when the lane must wait."""
        for index, (row, address) in enumerate(lane):
            now = self.clock.now()
            if now >= self.deadline:
                self.count(deferred=outbox.defer([r for r, _ in lane[index:]], now))
                return
            try:
                hold_until = self.send_row(row, address)
            except Exception:  # noqa: BLE001 - one bad row must not stop the drain
                log.exception("Outbox row %s (%s): unexpected error", row.id, row.kind)
                hold_until = None
                try:
                    status = outbox.mark_failed(
                        row, "internal error", self.clock.now(), self.settings
                    )
                    self.count(**{"dead" if status == "dead" else "failed": 1})
                except Exception:  # noqa: BLE001 - the claim times out and the row is retried
                    log.exception("Outbox row %s: could not record the failure", row.id)
            if hold_until is not None:
                rest = [r for r, _ in lane[index + 1 :]]
                self.count(deferred=outbox.defer(rest, hold_until))
                return

    def send_row(self, row: OutboxMessage, address: Address) -> datetime | None:
        """Send every part of a row not yet sent and record the outcome.

        Returns when the rest of the lane may go on: None at once, or a time to hold it until
        (the robot's window is full, the robot said 45009, or a transient failure).
        """
        settings = self.settings
        try:
            channel = self.channel(address.channel)
            parts = channel.messages(row.data, address)
        except (ChannelError, ValueError) as exc:
            return self.failed(row, address, exc, None)
        total = len(parts)
        if row.parts_sent >= total:
            if outbox.mark_sent(row, self.clock.now(), channel=address.channel, parts=total):
                self.count(sent=1)
            return None
        for index in range(row.parts_sent, total):
            grant = outbox.begin_part(row, address, self.clock.now(), settings)
            if grant.lost:
                log.warning("Outbox row %s was taken over by another drainer", row.id)
                return None
            if grant.no_credit:
                if outbox.skip(row, outbox.NO_CREDIT, self.clock.now(), channel=address.channel):
                    self.count(skipped=1)
                return None
            if not grant.go:
                until = self.clock.now() + timedelta(seconds=grant.wait)
                self.count(deferred=outbox.defer([row], until))
                return until
            try:
                channel.post(parts[index], address)
            except ChannelError as exc:
                self.step("answered", row)
                return self.failed(row, address, exc, grant.rate_event_id)
            self.step("answered", row)
            now = self.clock.now()
            if index + 1 < total:
                outbox.record_part(row, index + 1, now, rate_event_id=grant.rate_event_id)
            elif outbox.mark_sent(
                row, now, channel=address.channel, parts=total, rate_event_id=grant.rate_event_id
            ):
                self.count(sent=1)
                log.info("Outbox row %s (%s) sent to %s", row.id, row.kind, address.label)
            self.step("recorded", row)
        return None

    def failed(
        self,
        row: OutboxMessage,
        address: Address,
        exc: Exception,
        rate_event_id: int | None,
    ) -> datetime | None:
        """Record a failed send; return when the lane may go on (None: at once)."""
        now = self.clock.now()
        if isinstance(exc, ChannelError) and exc.rate_limited and address.rate_bucket:
            until = now + timedelta(seconds=exc.retry_after or 0.0)
            outbox.rest_bucket(address.rate_bucket, until, self.settings)
            log.warning("Robot %s answered 45009; resting it until %s", address.label, until)
            self.count(deferred=outbox.defer([row], until))
            return until
        if (
            isinstance(exc, ChannelError)
            and exc.errcode == 43101
            and address.channel == "subscribe"
        ):
            outbox.forget_credits(address.target, address.template_id, now)
            if outbox.skip(row, f"{exc} (no subscribe credit left)", now, channel=address.channel):
                self.count(skipped=1)
            return None
        status = outbox.mark_failed(
            row, exc, now, self.settings, rate_event_id=rate_event_id, channel=address.channel
        )
        if status == "dead":
            self.count(dead=1)
        elif status == "pending":
            self.count(failed=1)
            if getattr(exc, "retryable", True):
                return row.next_attempt_at
        return None


def drain(
    settings: Settings,
    now: datetime | None = None,
    *,
    max_seconds: float | None = None,
    clock: Clock | None = None,
    hook: Hook | None = None,
) -> DrainReport:
    """Send due outbox rows until none is due within the time budget; report what happened.

    ``now`` shifts the drain's clock (it still advances in real time); ``max_seconds``
    (default ``outbox.drain_max_seconds``) bounds the call, waits for robots' rate windows
    included, to about that plus the sends of the rows already started (each part up to the
    connect and read timeouts: a late answer is waited for, never abandoned). Rows claimed
    but not reached in time are put back at once. The scheduler runs it on its own thread,
    one at a time: a drain waiting for WeChat delays no other job. Uses the caller's
    connection or opens its own; sender threads (``outbox.concurrency``) open one each.
    """
    clock = clock or Clock(now)
    budget = settings["outbox"]["drain_max_seconds"] if max_seconds is None else max_seconds
    deadline = clock.now() + timedelta(seconds=budget)
    runner = _Drain(settings, clock, deadline, hook)
    if db.is_closed():
        with db.connection_context():
            return runner.run()
    return runner.run()
