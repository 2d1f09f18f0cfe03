"""The merchants as the settings describe them: [pay]'s default merchant and each committee's
own ([pay.merchants."<committee name>"]); whether WeChat Pay is on for a member; API clients.

Secrets (the private key, the APIv3 key) are read from their files or the environment when a
client is made, and never logged: a log line names the mchid and the kind of failure only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from core import wxpay
from core.config import Settings
from handlers.errors import DomainError, Refused
from models.org import Branch, Committee, Member

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


@dataclass(frozen=True)
class Merchant:
    """One merchant's settings (paths and ids; the secrets stay in their files)."""

    mchid: str
    appid: str
    merchant_serial: str
    private_key_path: str
    apiv3_key: str
    apiv3_key_file: str
    platform_public_key_path: str
    platform_serial: str


def _default(settings: Settings) -> Merchant | None:
    pay = settings.pay
    if not pay.mchid:
        return None
    return Merchant(
        pay.mchid, pay.appid or settings.wechat.app_id, pay.merchant_serial,
        pay.private_key_path, pay.apiv3_key, pay.apiv3_key_file,
        pay.platform_public_key_path, pay.platform_serial,
    )  # fmt: skip


def committee_merchant(committee: str, settings: Settings) -> Merchant | None:
    """The committee's own merchant, else the default one (None: WeChat Pay is off for it)."""
    own = settings.pay.merchants.get(committee)
    if own is None:
        return _default(settings)
    return Merchant(
        own.mchid, own.appid or settings.pay.appid or settings.wechat.app_id,
        own.merchant_serial, own.private_key_path, own.apiv3_key, own.apiv3_key_file,
        own.platform_public_key_path, own.platform_serial,
    )  # fmt: skip


def merchants(settings: Settings) -> dict[str, Merchant]:
    """Every configured merchant by mchid (the default first)."""
    found = [_default(settings)]
    found += [committee_merchant(name, settings) for name in settings.pay.merchants]
    return {m.mchid: m for m in found if m is not None}


def member_merchant(member: Member, settings: Settings) -> Merchant:
    """The merchant a member's dues are paid to, or PayNotConfigured."""
    committee = (
        Committee.select(Committee.name).join(Branch).where(Branch.id == member.branch_id).scalar()
    )
    merchant = committee_merchant(committee or "", settings)
    if merchant is None:
        raise PayNotConfigured(NOT_CONFIGURED)
    return merchant


def pays_online(member: Member, settings: Settings) -> bool:
    """Whether the member's committee has a merchant (its own or the default)."""
    try:
        member_merchant(member, settings)
    except PayNotConfigured:
        return False
    return True


def pay_enabled(settings: Settings) -> bool:
    """Whether any committee pays online (the jobs and the notification route run)."""
    return bool(merchants(settings))


def require_pay(settings: Settings) -> None:
    if not pay_enabled(settings):
        raise PayNotConfigured(NOT_CONFIGURED)


def merchant_of(mchid: str, settings: Settings) -> Merchant:
    """The merchant an order names ("": the default one, orders from before), or
    PayUnavailable when the settings no longer have it."""
    merchant = merchants(settings).get(mchid or settings.pay.mchid)
    if merchant is None:
        log.error("pay merchant %s is not in the settings", mchid or "(default)")
        raise PayUnavailable(UNAVAILABLE)
    return merchant


def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def _apiv3_key(merchant: Merchant) -> str:
    if merchant.apiv3_key:
        return merchant.apiv3_key
    return _read(merchant.apiv3_key_file).decode("ascii").strip()


def client(settings: Settings, merchant: Merchant | None = None) -> wxpay.PayClient:
    """The API client of a merchant (the default one when none is named), keys read now."""
    if merchant is None:
        require_pay(settings)
        merchant = merchant_of("", settings)
    pay = settings.pay
    try:
        return wxpay.PayClient(
            mchid=merchant.mchid,
            appid=merchant.appid,
            serial=merchant.merchant_serial,
            private_key_pem=_read(merchant.private_key_path).decode("ascii"),
            apiv3_key=_apiv3_key(merchant),
            platform_public_pem=wxpay.public_key_text(_read(merchant.platform_public_key_path)),
            platform_serial=merchant.platform_serial,
            base_url=pay.base_url,
            timeout=(pay.connect_timeout_seconds, pay.read_timeout_seconds),
            window=pay.timestamp_window,
        )
    except (OSError, ValueError, TypeError) as exc:
        log.error("merchant %s keys cannot be used: %s", merchant.mchid, type(exc).__name__)
        raise PayUnavailable(UNAVAILABLE) from None


def order_client(mchid: str, settings: Settings) -> wxpay.PayClient:
    """The API client of the merchant an order was made with."""
    return client(settings, merchant_of(mchid, settings))
