"""WeChat Pay's notifications (POST /pay/notify), of payments and of refunds: verified,
decrypted, checked, booked once."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core import wxpay
from core.config import Settings
from handlers.errors import DomainError
from handlers.pay.booking import Mismatch, book_transaction
from handlers.pay.merchant import PayUnavailable, client, merchants, pay_enabled
from handlers.pay.refunds import book_refund

log = logging.getLogger(__name__)


class NotificationRefused(DomainError):
    """A notification refused; ``status`` is the HTTP status to answer with."""

    errcode = "FAIL"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def receive_notification(
    headers: Mapping[str, str], body: bytes, *, now: datetime, settings: Settings
) -> str:
    """A payment or refund notification: its signature (platform key, timestamp window), its
    resource decrypted with the APIv3 key, then checked against our order or refund and booked
    once. Returns what it did (booked, duplicate, unbookable, failed, processing): a duplicate
    books nothing and is still a success; a mismatch raises (400)."""
    if not pay_enabled(settings):
        raise NotificationRefused(503, "payment is not configured")
    event = _event(body)
    mchid, data = _verified(headers, body, now.timestamp(), settings)
    if data.get("mchid") != mchid:
        log.warning("pay notification refused: resource of %s names another merchant", mchid)
        raise NotificationRefused(400, "the resource names another merchant")
    try:
        if event in REFUND_EVENTS:
            out_refund_no = str(data.get("out_refund_no") or "")
            return book_refund(out_refund_no, data, now=now, settings=settings)
        out_trade_no = str(data.get("out_trade_no") or "")
        return book_transaction(out_trade_no, data, now=now, settings=settings).outcome
    except Mismatch as refusal:
        raise NotificationRefused(400, f"{event} does not match: {refusal.errcode}") from None


# WeChat Pay's refund notifications: the refund went through, failed, or was closed.
REFUND_EVENTS = ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")
EVENTS = ("TRANSACTION.SUCCESS", *REFUND_EVENTS)


def _event(body: bytes) -> str:
    """The notification's event type, before its signature is checked."""
    try:
        envelope = json.loads(body)
    except ValueError:
        raise NotificationRefused(400, "body is not JSON") from None
    if not isinstance(envelope, dict) or envelope.get("event_type") not in EVENTS:
        raise NotificationRefused(400, "not a payment or refund notification")
    return str(envelope["event_type"])


def _verified(
    headers: Mapping[str, str], body: bytes, now: float, settings: Settings
) -> tuple[str, dict[str, Any]]:
    """The merchant (mchid) whose WeChat Pay key (the serial the notification names) signed it
    and whose APIv3 key decrypts it, and the decrypted resource; else 401."""
    serial = str(headers.get("Wechatpay-Serial") or "")
    named = [m for m in merchants(settings).values() if m.platform_serial == serial]
    for merchant in named:
        try:
            envelope = client(settings, merchant).notification(headers, body, now=now)
        except PayUnavailable:
            continue
        except wxpay.PayProtocolError as exc:
            log.warning("pay notification not of %s: %s", merchant.mchid, exc)
            continue
        return merchant.mchid, envelope["resource"]
    log.warning("pay notification refused: no merchant verifies it (serial %s)", serial[:40])
    raise NotificationRefused(401, "signature check failed")
