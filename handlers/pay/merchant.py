"""The merchant as the settings describe it: whether WeChat Pay is on, and its API client."""

from __future__ import annotations

import logging
from pathlib import Path

from core import wxpay
from core.config import Settings
from handlers.errors import DomainError, Refused

log = logging.getLogger(__name__)

NOT_CONFIGURED = (
    "本单位尚未开通微信支付交纳党费。请按原方式交纳后，在小程序中提交交纳报告，由收缴员确认。"
)
UNAVAILABLE = "微信支付暂时无法使用，请稍后再试；也可以按原方式交纳后提交交纳报告。"


class PayNotConfigured(Refused):
    errcode = "pay_not_configured"


class PayUnavailable(DomainError):
    """WeChat Pay did not answer, or answered with an error: try again later."""

    errcode = "pay_unavailable"


def pay_enabled(settings: Settings) -> bool:
    return bool(settings.pay.mchid)


def require_pay(settings: Settings) -> None:
    if not pay_enabled(settings):
        raise PayNotConfigured(NOT_CONFIGURED)


def appid(settings: Settings) -> str:
    return settings.pay.appid or settings.wechat.app_id


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def client(settings: Settings) -> wxpay.PayClient:
    """The API client of the configured merchant (keys read from their files now)."""
    require_pay(settings)
    pay = settings.pay
    try:
        private_pem = _read(pay.private_key_path).decode("ascii")
        platform_pem = wxpay.public_key_text(_read(pay.platform_public_key_path))
        return wxpay.PayClient(
            mchid=pay.mchid,
            appid=appid(settings),
            serial=pay.merchant_serial,
            private_key_pem=private_pem,
            apiv3_key=pay.apiv3_key,
            platform_public_pem=platform_pem,
            platform_serial=pay.platform_serial,
            base_url=pay.base_url,
            timeout=(pay.connect_timeout_seconds, pay.read_timeout_seconds),
            window=pay.timestamp_window,
        )
    except (OSError, ValueError, TypeError) as exc:
        log.error("merchant %s keys cannot be used: %s", pay.mchid, type(exc).__name__)
        raise PayUnavailable(UNAVAILABLE) from None
