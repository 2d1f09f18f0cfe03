"""The callback driver: build, sign and encrypt messages as WeChat does, deliver, read replies."""

from __future__ import annotations

import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

# WeChat's own behaviour: wait 5 s for an answer, then deliver the identical body again,
# up to three more times.
WECHAT_TIMEOUT = 5.0
WECHAT_REDELIVERIES = 3

Poster = Callable[[str, dict[str, str], bytes, float], tuple[int, str]]


def cdata(value: str) -> str:
    """Wrap text in CDATA, splitting any ']]>' inside it as XML requires."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def sign(*parts: str) -> str:
    """Return WeChat's SHA1 signature of the sorted parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


@dataclass(frozen=True)
class Delivery:
    """What the server answered to one message, after any redeliveries."""

    status: int
    body: str
    reply: str | None  # the reply's text content; None for "success" or an empty body
    attempts: int


class ReplyError(AssertionError):
    """The server's answer is not something WeChat would accept."""


class CallbackDriver:
    """Send text and events to a /wechat endpoint exactly as WeChat would."""

    def __init__(
        self,
        *,
        token: str,
        aes_key: str,
        app_id: str,
        mode: str = "safe",
        url: str = "http://127.0.0.1:5000/wechat",
        poster: Poster | None = None,
        timeout: float = WECHAT_TIMEOUT,
        account: str = "gh_zhibu_demo",
    ) -> None:
        self.token = token
        self.app_id = app_id
        self.mode = mode
        self.url = url
        self.timeout = timeout
        self.account = account
        self.crypto = WeChatCrypto(token, aes_key, app_id)
        self.poster = poster or http_poster
        self._msg_seq = int(time.time() * 1000) * 1000 + secrets.randbelow(1000)

    # ---- building ---------------------------------------------------------------------------

    def next_msg_id(self) -> str:
        self._msg_seq += 1
        return str(self._msg_seq)

    def text_xml(
        self,
        openid: str,
        content: str,
        *,
        msg_id: str | None = None,
        create_time: int | None = None,
    ) -> str:
        """Build a text message as WeChat posts it."""
        return (
            f"<xml><ToUserName>{cdata(self.account)}</ToUserName>"
            f"<FromUserName>{cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
            f"<MsgType>{cdata('text')}</MsgType><Content>{cdata(content)}</Content>"
            f"<MsgId>{msg_id or self.next_msg_id()}</MsgId></xml>"
        )

    def event_xml(
        self, openid: str, event: str, *, key: str | None = None, create_time: int | None = None
    ) -> str:
        """Build an event (subscribe, SCAN, unsubscribe, CLICK, ...) as WeChat posts it."""
        extra = ""
        if key is not None:
            extra += f"<EventKey>{cdata(key)}</EventKey>"
            if event in ("subscribe", "SCAN"):
                extra += f"<Ticket>{cdata('gQ' + secrets.token_hex(16))}</Ticket>"
        return (
            f"<xml><ToUserName>{cdata(self.account)}</ToUserName>"
            f"<FromUserName>{cdata(openid)}</FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
            f"<MsgType>{cdata('event')}</MsgType><Event>{cdata(event)}</Event>{extra}</xml>"
        )

    def scan_xml(self, openid: str, scene: str, *, follower: bool = True, **kw: Any) -> str:
        """Build a QR scan: SCAN from a follower, subscribe with qrscene_ from a newcomer."""
        if follower:
            return self.event_xml(openid, "SCAN", key=scene, **kw)
        return self.event_xml(openid, "subscribe", key="qrscene_" + scene, **kw)

    def wrap(
        self, xml: str, *, timestamp: str | None = None, nonce: str | None = None
    ) -> tuple[dict[str, str], bytes]:
        """Sign (plain) or encrypt and sign (safe) a message; return query params and body."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or "".join(secrets.choice(string.digits) for _ in range(10))
        openid = xmltodict.parse(xml)["xml"].get("FromUserName", "")
        params = {
            "signature": sign(self.token, timestamp, nonce),
            "timestamp": timestamp,
            "nonce": nonce,
            "openid": openid,
        }
        if self.mode == "plain":
            return params, xml.encode()
        envelope = xmltodict.parse(self.crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        encrypt = envelope["Encrypt"]
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sign(self.token, timestamp, nonce, encrypt)
        body = (
            f"<xml><ToUserName>{cdata(self.account)}</ToUserName>"
            f"<Encrypt>{cdata(encrypt)}</Encrypt></xml>"
        )
        return params, body.encode()

    # ---- delivering -------------------------------------------------------------------------

    def deliver(self, xml: str, *, redeliveries: int = WECHAT_REDELIVERIES) -> Delivery:
        """Post once; on a timeout or 5xx post the identical body again, as WeChat does."""
        params, body = self.wrap(xml)
        attempts = 0
        while True:
            attempts += 1
            try:
                status, text = self.poster(self.url, params, body, self.timeout)
            except requests.Timeout:
                status, text = 0, ""
            if (status == 0 or status >= 500) and attempts <= redeliveries:
                continue
            break
        reply = self.read_reply(text) if status == 200 else None
        return Delivery(status=status, body=text, reply=reply, attempts=attempts)

    def send_text(self, openid: str, content: str, **kw: Any) -> Delivery:
        return self.deliver(self.text_xml(openid, content, **kw))

    def send_event(self, openid: str, event: str, key: str | None = None, **kw: Any) -> Delivery:
        return self.deliver(self.event_xml(openid, event, key=key, **kw))

    def read_reply(self, text: str) -> str | None:
        """Check the answer is what WeChat accepts; return the reply's text, or None."""
        if text in ("", "success"):
            return None
        try:
            outer = xmltodict.parse(text)["xml"]
        except Exception as exc:  # noqa: BLE001 - anything unparsable is the failure we report
            raise ReplyError(f"reply is neither 'success' nor XML: {text[:200]!r}") from exc
        if self.mode == "safe":
            if "Encrypt" not in outer:
                raise ReplyError("safe mode reply is not encrypted")
            try:
                inner = self.crypto.decrypt_message(
                    text, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"]
                )
            except Exception as exc:  # noqa: BLE001
                raise ReplyError(f"reply does not decrypt or verify: {exc!r}") from exc
            outer = xmltodict.parse(inner)["xml"]
        if outer.get("MsgType") != "text":
            return f"[{outer.get('MsgType')}]"
        return outer.get("Content") or ""


def http_poster(url: str, params: dict[str, str], body: bytes, timeout: float) -> tuple[int, str]:
    """Post over real HTTP."""
    response = requests.post(
        url, params=params, data=body, timeout=timeout, headers={"Content-Type": "text/xml"}
    )
    return response.status_code, response.text


def flask_poster(client: Any) -> Poster:
    """Post through a Flask test client (in-process, `simulate --local`)."""

    def post(url: str, params: dict[str, str], body: bytes, timeout: float) -> tuple[int, str]:
        response = client.post("/wechat", query_string=params, data=body, content_type="text/xml")
        return response.status_code, response.get_data(as_text=True)

    return post
