"""A merchant for WeChat Pay tests: keys generated now (never committed), registered with the fake,
written to files, and the [pay] settings that point the app at them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from bot.fake import FakeWeChat
from core import wxpay

MCHID = "1900000109"


@dataclass
class Merchant:
    mchid: str
    appid: str
    serial: str
    key: rsa.RSAPrivateKey
    apiv3_key: str
    key_path: Path
    platform_path: Path

    def client(
        self,
        fake: FakeWeChat,
        *,
        key: rsa.RSAPrivateKey | None = None,
        platform_pem: bytes | None = None,
    ) -> wxpay.PayClient:
        """The app's client for this merchant (another private or platform key: a forgery)."""
        return wxpay.PayClient(
            mchid=self.mchid,
            appid=self.appid,
            serial=self.serial,
            private_key_pem=wxpay.private_pem(key or self.key).decode(),
            apiv3_key=self.apiv3_key,
            platform_public_pem=(platform_pem or fake.platform_public_pem()).decode(),
            platform_serial=fake.pay_serial,
            base_url=fake.base_url,
        )

    def settings(self, fake: FakeWeChat, notify_url: str = "") -> dict[str, Any]:
        """The [pay] section of a merchant configured against the fake."""
        return {
            "mchid": self.mchid,
            "appid": self.appid,
            "merchant_serial": self.serial,
            "private_key_path": str(self.key_path),
            "apiv3_key": self.apiv3_key,
            "platform_public_key_path": str(self.platform_path),
            "platform_serial": fake.pay_serial,
            "base_url": fake.base_url,
            "notify_url": notify_url or "https://zhibu.example.org/pay/notify",
        }


def merchant(
    fake: FakeWeChat, folder: Path, appid: str | None = None, mchid: str = MCHID
) -> Merchant:
    """A new merchant with fresh keys, known to the fake, its key files in ``folder``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    serial = secrets.token_hex(20).upper()
    apiv3_key = secrets.token_hex(16)  # 32 characters, as the merchant platform sets it
    appid = appid or fake.appid
    folder.mkdir(parents=True, exist_ok=True)
    key_path = folder / "apiclient_key.pem"
    key_path.write_bytes(wxpay.private_pem(key))
    platform_path = folder / "pub_key.pem"
    platform_path.write_bytes(fake.platform_public_pem())
    fake.add_merchant(mchid, appid, serial, wxpay.public_pem(key), apiv3_key)
    return Merchant(mchid, appid, serial, key, apiv3_key, key_path, platform_path)


def assessed_pay_env(make_env: Any, shop: Merchant, fake: FakeWeChat) -> Any:
    """A test environment with the merchant's pay settings, notifications to the live server,
    and dues assessed for m1 and mb from January 2026."""
    from datetime import date

    from tests import factories as f

    env = make_env(pay=shop.settings(fake))
    env.settings.pay.notify_url = env.server.url + "/pay/notify"
    with env.ctx():
        for key in ("m1", "mb"):
            f.assess(env.people[key], base_fen=800000, from_month=date(2026, 1, 1))
    return env
