"""The /wechat callback: verify, decrypt, dedupe, dispatch, reply. Never a WeChat API call here."""

from __future__ import annotations

import functools
import hmac
import logging
import re
import time
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, request
from peewee import IntegrityError, OperationalError
from wechatpy import create_reply
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.utils import WeChatSigner
from werkzeug.exceptions import HTTPException

from bot.context import Context
from bot.dispatcher import BUSY_REPLY, Dispatcher, Finish
from bot.incoming import Incoming
from bot.wire import message_from, parse_xml
from core.clock import UTC, utcnow
from core.config import Settings, WechatSettings
from core.doors import through
from core.metrics import CALLBACK_SECONDS, CALLBACKS
from core.text import safe_for_reply
from models.prepared import execute
from models.wechat import InboundMessage, stored_reply

log = logging.getLogger(__name__)

bp = Blueprint("wechat", __name__)

# Transient lock errors are retried this many times before the member is told to retry.
WRITE_ATTEMPTS = 3
# What WeChat sends: a Unix time, a numeric nonce, hex SHA-1 signatures. The nonce and
# timestamp are echoed into the encrypted reply, so nothing else may pass.
TIMESTAMP_RE = re.compile(r"[0-9]{1,10}")
NONCE_RE = re.compile(r"[0-9A-Za-z]{1,64}")
SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{40}")
# OpenIDs and account ids are short plain tokens; these would break the reply's XML (CDATA).
ACCOUNT_UNSAFE = re.compile(r"]]>|[\x00-\x1f\x7f<>&\ud800-\udfff\ufffe\uffff]")
# A callback refused before it was dispatched, as core.metrics counts it (by HTTP status).
REFUSAL_OUTCOMES = {400: "bad_request", 403: "refused", 413: "too_large"}


def _settings() -> Settings:
    return current_app.config["ZHIBU"]


def _sign(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def _check_time_and_signature(
    wechat: WechatSettings, signature: str, *extra: str
) -> tuple[str, str]:
    """Abort 403 unless the timestamp is inside the window and the signature matches."""
    timestamp = request.args.get("timestamp", "")
    nonce = request.args.get("nonce", "")
    if not (
        TIMESTAMP_RE.fullmatch(timestamp)
        and NONCE_RE.fullmatch(nonce)
        and SIGNATURE_RE.fullmatch(signature)
    ):
        abort(403)
    if abs(time.time() - int(timestamp)) > wechat.timestamp_window:
        abort(403)
    expected = _sign(wechat.token, timestamp, nonce, *extra)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        abort(403)
    return timestamp, nonce


class Crypto(WeChatCrypto):
    """wechatpy's message crypto with its AES cipher built once, not once per message."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        super().__init__(token, encoding_aes_key, app_id)
        self.prp = PrpCrypto(self.key)

    def _cipher(self, key: bytes) -> PrpCrypto:
        return self.prp

    def encrypt_message(self, msg: Any, nonce: str, timestamp: str | None = None) -> str:
        return self._encrypt_message(msg, nonce, timestamp, self._cipher)

    def decrypt_message(self, msg: Any, signature: str, timestamp: str, nonce: str) -> str:
        return self._decrypt_message(msg, signature, timestamp, nonce, self._cipher)


def _crypto(wechat: WechatSettings) -> Crypto:
    return _crypto_for(wechat.token, wechat.encoding_aes_key, wechat.app_id)


@functools.lru_cache(maxsize=8)
def _crypto_for(token: str, encoding_aes_key: str, app_id: str) -> Crypto:
    """One Crypto per account's settings (it keeps no state between messages)."""
    return Crypto(token, encoding_aes_key, app_id)


@bp.get("/wechat")
def verify() -> Response:
    """Answer WeChat's server verification with the echostr."""
    _check_time_and_signature(_settings().wechat, request.args.get("signature", ""))
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat")
def callback() -> Response:
    """Handle one message or event and answer within WeChat's 5 s; count it by outcome."""
    started = time.perf_counter()
    outcome = "error"
    try:
        response, outcome = _callback()
        return response
    except HTTPException as exc:
        outcome = REFUSAL_OUTCOMES.get(exc.code or 500, "error")
        raise
    finally:
        CALLBACKS.labels(outcome).inc()
        CALLBACK_SECONDS.observe(time.perf_counter() - started)


def _callback() -> tuple[Response, str]:
    """Verify, decrypt, dispatch and reply; return the answer and the outcome."""
    settings = _settings()  # looked up once per request
    wechat = settings.wechat
    safe = wechat.mode == "safe"
    body = request.get_data(cache=False)  # 413 above MAX_CONTENT_LENGTH, before any parsing
    if safe:
        try:
            encrypt = parse_xml(body)["xml"]["Encrypt"]
        except Exception:  # noqa: BLE001 - hostile input of any shape is a bad request
            abort(400)
        if not isinstance(encrypt, str):
            abort(400)
        timestamp, nonce = _check_time_and_signature(
            wechat, request.args.get("msg_signature", ""), encrypt
        )
        try:
            xml: bytes | str = _crypto(wechat).decrypt_message(
                {"Encrypt": encrypt}, request.args["msg_signature"], timestamp, nonce
            )
        except Exception:  # noqa: BLE001 - a wrong key surfaces as UnicodeDecodeError and more
            abort(403)
    else:
        timestamp, nonce = _check_time_and_signature(wechat, request.args.get("signature", ""))
        xml = body
    try:
        msg = message_from(_message_fields(xml))
        incoming = to_incoming(msg)
    except Exception:  # noqa: BLE001 - malformed XML, missing fields, odd types
        abort(400)
    text, outcome = process(incoming, settings)
    if not text:
        return Response("success", mimetype="text/plain"), outcome
    reply = create_reply(safe_for_reply(text), msg).render()
    if safe:
        reply = _crypto(wechat).encrypt_message(reply, nonce, timestamp)
    return Response(reply, mimetype="application/xml"), outcome


def _message_fields(xml: bytes | str) -> dict[str, Any]:
    """The message's fields, read from its XML in one pass as wechatpy reads them (as UTF-8).

    A plain-mode body that declares its own encoding is also read under that declaration,
    which refuses one that its bytes do not match (or that expat does not know).
    """
    if isinstance(xml, bytes):
        if xml.lstrip(b"\xef\xbb\xbf")[:5] == b"<?xml":
            parse_xml(xml)
        xml = xml.decode("utf-8")
    return parse_xml(xml)["xml"]


def to_incoming(msg: Any) -> Incoming:
    """Turn a wechatpy message or event into the plain Incoming the handlers see."""
    data = msg._data  # the raw fields; wechatpy's datetime conversion drops the time zone
    openid = data["FromUserName"]
    if not isinstance(openid, str) or not 0 < len(openid) <= 64:
        raise ValueError("bad FromUserName")
    for field in ("FromUserName", "ToUserName"):  # both are echoed into the reply's CDATA
        value = data.get(field)
        if not isinstance(value, str) or not value or ACCOUNT_UNSAFE.search(value):
            raise ValueError(f"bad {field}")
    at = datetime.fromtimestamp(int(data["CreateTime"]), UTC)
    kind = msg.type
    event = getattr(msg, "event", "") or ""
    if not event and isinstance(data.get("Event"), str):  # events wechatpy does not know
        event = data["Event"].lower()
    scene = ""
    if kind == "event":
        if event == "subscribe_scan":
            event, scene = "subscribe", msg.scene_id
        elif event == "scan":
            scene = msg.scene_id
        elif isinstance(data.get("EventKey"), str):
            scene = data["EventKey"]
        elif isinstance(data.get("MsgID"), str):  # TEMPLATESENDJOBFINISH and kin
            scene = data["MsgID"]
    msg_id = data.get("MsgId") or ""
    if not isinstance(msg_id, str) or len(msg_id) > 64:
        raise ValueError("bad MsgId")
    text = (msg.content or "") if kind == "text" else ""
    if not isinstance(text, str):
        raise ValueError("bad Content")
    return Incoming(
        openid=openid,
        kind=kind,
        at=at,
        text=text,
        event=event,
        scene=str(scene or "")[:128],
        msg_id=msg_id,
    )


def process(incoming: Incoming, settings: Settings) -> tuple[str | None, str]:
    """Dispatch once per dedupe key; a retry (on any worker) gets the stored reply. Return
    the reply and the outcome: answered, duplicate (the stored reply) or busy.

    Reads come first, outside the write lock (most retries end there); the write transaction
    holds only the handler and the dedupe row with its reply. A duplicate racing us (another
    thread, worker or process) fails on the dedupe row's unique key and rolls back whole, then
    answers with the reply the first one stored.
    """
    dispatcher: Dispatcher = current_app.extensions["zhibu.dispatcher"]
    key = incoming.dedupe_key
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            ctx = dispatcher.context(incoming, settings, utcnow())
            prior = dispatcher.read_ahead(ctx, key)  # and the sender's member
            if prior is not None:
                return prior[0], "duplicate"
            with through("bot"):
                return dispatcher.dispatch(ctx, _finisher(dispatcher, ctx, key)), "answered"
        except IntegrityError:
            # A concurrent delivery of the same message committed first: answer as it did.
            prior = stored_reply(key)
            if prior is not None:
                return prior[0], "duplicate"
            log.warning("dedupe insert conflicted but no row found for %s", key)
        except OperationalError as exc:
            log.warning("write attempt %d/%d failed: %s", attempt, WRITE_ATTEMPTS, exc)
    return BUSY_REPLY, "busy"


def _finisher(dispatcher: Dispatcher, ctx: Context, key: str) -> Finish:
    """What the message's transaction writes after its handler: the activity note and the
    dedupe row with the reply, for the member read ahead (before the write lock)."""
    member = ctx.member

    def finish(reply: str | None) -> None:
        if member is not None:
            dispatcher.note_activity(member, ctx.now)
        # The dedupe row's unique key makes a duplicate that committed first (another thread
        # or worker) fail here, and this whole transaction roll back.
        store_reply(key, ctx.incoming.openid, reply, ctx.now)

    return finish


def store_reply(key: str, openid: str, reply: str | None, now: datetime) -> None:
    """Store the message's dedupe row with its reply; IntegrityError if it is there already."""
    execute(
        "inbound_insert",
        lambda v: InboundMessage.insert(
            dedupe_key=v["key"], openid=v["openid"], reply=v["reply"], created_at=v["now"]
        ),
        {"key": key, "openid": openid, "reply": reply, "now": now},
    )
