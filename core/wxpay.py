"""WeChat Pay API v3 as one merchant, through the wechatpayv3 SDK (public-key mode).

The SDK signs every request (``Authorization: WECHATPAY2-SHA256-RSA2048 ...``), verifies the
signature of WeChat Pay's 2xx answers and of notifications with WeChat Pay's public key, and
decrypts a notification's AEAD_AES_256_GCM resource with the APIv3 key. This module is a thin
adapter around it; what it adds covers where the SDK falls short (README, "WeChat Pay SDK"):

- the gateway is fixed in the SDK: ``base_url`` is set on its core (a private attribute,
  ``_gate_way``), so the local fake and tests reach the same code as production;
- the SDK raises bare ``Exception``s and returns error answers as (status, text): here every
  failure is ``PayApiError`` (status, WeChat Pay's code and message; NETWORK, BAD_SIGNATURE);
- notifications: the serial is checked before the SDK (it would go looking for platform
  certificates for an unknown one) and the timestamp against a window (the SDK checks none);
- the trade bill: asked without ``tar_type`` (the SDK always sends one) and its SHA1 checked;
- a platform certificate instead of a public key: its public key is taken out of it here.

Money is integer fen (amount.total). The client never retries: a caller decides.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.type import RequestType

BASE_URL = "https://api.mch.weixin.qq.com"


class PayProtocolError(Exception):
    """A notification whose serial, timestamp, signature or ciphertext does not check out."""


class PayApiError(Exception):
    """WeChat Pay refused a request: HTTP status, its code and message (or no answer at all)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The PEM of a private key's public half."""
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    """The unencrypted PKCS#8 PEM of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_key_text(pem: bytes) -> str:
    """WeChat Pay's public key as the SDK takes it, from a public key or a platform
    certificate PEM (the SDK's public-key mode reads public keys only)."""
    if b"CERTIFICATE" in pem:
        key = x509.load_pem_x509_certificate(pem).public_key()
        pem = key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return pem.decode("ascii")


class PayClient:
    """Calls to WeChat Pay v3 as one merchant; every 2xx answer's signature is verified."""

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        serial: str,
        private_key_pem: str,
        apiv3_key: str,
        platform_public_pem: str,
        platform_serial: str,
        base_url: str = BASE_URL,
        timeout: tuple[float, float] = (4.0, 10.0),
        window: int = 300,
    ) -> None:
        self.mchid, self.appid, self.platform_serial, self.window = (
            mchid, appid, platform_serial, window
        )  # fmt: skip
        self.base_url = base_url.rstrip("/")
        try:
            self.sdk = WeChatPay(
                wechatpay_type=WeChatPayType.MINIPROG,
                mchid=mchid,
                private_key=private_key_pem,
                cert_serial_no=serial,
                appid=appid,
                apiv3_key=apiv3_key,
                timeout=timeout,
                public_key=platform_public_pem,
                public_key_id=platform_serial,
            )
        except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exception on a bad key
            raise ValueError(f"merchant keys cannot be used: {exc}") from None
        # The SDK's gateway is a constant; the fake and tests need ours (README).
        self.sdk._core._gate_way = self.base_url

    def _answer(self, send: Callable[[], tuple[int, Any]]) -> tuple[int, bytes]:
        """Run one SDK call; (status, body) of a 2xx answer, else PayApiError."""
        try:
            status, body = send()
        except requests.RequestException as exc:
            raise PayApiError(0, "NETWORK", type(exc).__name__) from None
        except Exception as exc:  # noqa: BLE001 - the SDK's "failed to verify the signature"
            raise PayApiError(200, "BAD_SIGNATURE", str(exc)) from None
        raw = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
        if status >= 300:
            try:
                error = json.loads(raw)
            except ValueError:
                error = {}
            error = error if isinstance(error, dict) else {}
            raise PayApiError(status, str(error.get("code", "")), str(error.get("message", "")))
        return status, raw

    def _json(self, send: Callable[[], tuple[int, Any]]) -> dict[str, Any]:
        _, raw = self._answer(send)
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            raise PayApiError(200, "BAD_ANSWER", "answer is not JSON") from None
        if not isinstance(data, dict):
            raise PayApiError(200, "BAD_ANSWER", "answer is not a JSON object")
        return data

    def jsapi(
        self,
        appid: str,
        out_trade_no: str,
        description: str,
        total_fen: int,
        openid: str,
        notify_url: str,
    ) -> str:
        """Create (or find again) a mini-program order; return its prepay_id."""
        answer = self._json(
            lambda: self.sdk.pay(
                description=description,
                out_trade_no=out_trade_no,
                amount={"total": total_fen, "currency": "CNY"},
                payer={"openid": openid},
                notify_url=notify_url,
                appid=appid,
            )
        )
        prepay_id = answer.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise PayApiError(200, "BAD_ANSWER", "no prepay_id")
        return prepay_id

    def request_payment_params(
        self, prepay_id: str, *, timestamp: str | None = None
    ) -> dict[str, str]:
        """The parameters of ``wx.requestPayment`` for a prepay id, signed by the SDK."""
        timestamp = timestamp or str(int(time.time()))
        nonce = secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        sign = self.sdk.sign([self.appid, timestamp, nonce, package])
        return {
            "appId": self.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": sign,
        }

    def query(self, out_trade_no: str) -> dict[str, Any]:
        """An order as WeChat Pay knows it (trade_state, transaction_id, amount, ...)."""
        return self._json(lambda: self.sdk.query(out_trade_no=out_trade_no))

    def close(self, out_trade_no: str) -> None:
        """Close an unpaid order (204); a paid one answers 400 ORDERPAID."""
        self._answer(lambda: self.sdk.close(out_trade_no))

    def refund(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Ask for a refund (out_trade_no, out_refund_no, reason, notify_url, amount)."""
        return self._json(lambda: self.sdk.refund(**payload))

    def refund_query(self, out_refund_no: str) -> dict[str, Any]:
        """A refund as WeChat Pay knows it (status: PROCESSING, SUCCESS, ABNORMAL, CLOSED)."""
        return self._json(lambda: self.sdk.query_refund(out_refund_no))

    def trade_bill(self, bill_date: str) -> str:
        """The day's trade bill (ALL), uncompressed: text lines, fields with "`"."""
        # The SDK's trade_bill always sends tar_type (GZIP by default): ask its core directly.
        path = f"/v3/bill/tradebill?bill_date={bill_date}&bill_type=ALL"
        info = self._json(lambda: self.sdk._core.request(path, method=RequestType.GET))
        url = info.get("download_url")
        if not isinstance(url, str) or not url.startswith(self.base_url + "/"):
            raise PayApiError(200, "BAD_ANSWER", "download_url is not the gateway's")
        # The file itself is not signed (WeChat Pay's rule): its SHA1 is in the answer.
        _, raw = self._answer(lambda: self.sdk.download_bill(url))
        if info.get("hash_type") == "SHA1":
            digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
            if digest != str(info.get("hash_value", "")).lower():
                raise PayApiError(200, "BAD_ANSWER", "bill hash does not match")
        return raw.decode("utf-8")

    def notification(self, headers: Mapping[str, str], body: bytes, *, now: float) -> dict:
        """A notification verified (serial, timestamp within the window, signature) and its
        resource decrypted by the SDK: the envelope with ``resource`` as a dict; or
        PayProtocolError."""
        serial = str(headers.get("Wechatpay-Serial") or "")
        if not hmac.compare_digest(serial, self.platform_serial):
            raise PayProtocolError("unknown Wechatpay-Serial")
        try:
            moment = int(headers.get("Wechatpay-Timestamp") or "")
        except ValueError:
            raise PayProtocolError("Wechatpay-Timestamp is not a number") from None
        if abs(now - moment) > self.window:
            raise PayProtocolError("Wechatpay-Timestamp outside the window")
        try:
            data = self.sdk.callback(headers, body)
        except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exception (algorithms)
            raise PayProtocolError(f"notification refused by the SDK: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("resource"), dict):
            raise PayProtocolError("bad signature, or the resource does not decrypt")
        return data
