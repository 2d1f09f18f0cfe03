"""WeChat Pay API v3: the signatures, the AEAD_AES_256_GCM resource cipher, and a small client.

Both sides of the protocol are here, since the local fake WeChat plays the other one:

- a request carries ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
  signature=…,timestamp=…,serial_no=…``, the signature being RSA-SHA256 (PKCS#1 v1.5) with the
  merchant's private key over "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n";
- an answer and a notification carry Wechatpay-Timestamp, -Nonce, -Signature and -Serial, the
  signature over "TIMESTAMP\\nNONCE\\nBODY\\n" with the platform key;
- a notification's ``resource`` is AEAD_AES_256_GCM with the 32-byte APIv3 key;
- ``wx.requestPayment``'s paySign is RSA-SHA256 over "appId\\ntimeStamp\\nnonceStr\\npackage\\n".

Money is integer fen (amount.total). The client never retries: a caller decides.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
ALGORITHM = "AEAD_AES_256_GCM"
BASE_URL = "https://api.mch.weixin.qq.com"
HEADER_TIMESTAMP = "Wechatpay-Timestamp"
HEADER_NONCE = "Wechatpay-Nonce"
HEADER_SIGNATURE = "Wechatpay-Signature"
HEADER_SERIAL = "Wechatpay-Serial"
_AUTH_PART = re.compile(r'(\w+)="([^"]*)"')


class PayProtocolError(Exception):
    """A signature, a timestamp or a ciphertext that does not check out."""


class PayApiError(Exception):
    """WeChat Pay refused a request: HTTP status, its code and message (or no answer at all)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def new_nonce() -> str:
    """A 32-character random nonce."""
    return secrets.token_hex(16)


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM (apiclient_key.pem)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("expected an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key (WeChat Pay public key) or a certificate."""
    if b"CERTIFICATE" in pem:
        key = x509.load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("expected an RSA public key")
    return key


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


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    """Base64 RSA-SHA256 (PKCS#1 v1.5) of a message."""
    raw = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def rsa_verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    """Whether a base64 RSA-SHA256 signature is the key's over the message."""
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(method: str, path: str, timestamp: str, nonce: str, body: str) -> str:
    """What a request's Authorization signs."""
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"


def answer_message(timestamp: str, nonce: str, body: str) -> str:
    """What an answer's or a notification's Wechatpay-Signature signs."""
    return f"{timestamp}\n{nonce}\n{body}\n"


def authorization(
    mchid: str,
    serial: str,
    key: rsa.RSAPrivateKey,
    method: str,
    path: str,
    body: str,
    *,
    timestamp: str | None = None,
    nonce: str | None = None,
) -> str:
    """The Authorization header of a request (path includes its query string)."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or new_nonce()
    signature = rsa_sign(key, request_message(method, path, timestamp, nonce, body))
    return (
        f'{SCHEMA} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial}"'
    )


def parse_authorization(header: str) -> dict[str, str] | None:
    """The parts of an Authorization header, or None when it is not WeChat Pay's schema."""
    schema, _, rest = header.partition(" ")
    if schema != SCHEMA:
        return None
    parts = dict(_AUTH_PART.findall(rest))
    wanted = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}
    return parts if wanted <= parts.keys() else None


def signed_headers(
    key: rsa.RSAPrivateKey, serial: str, body: str, *, timestamp: str | None = None
) -> dict[str, str]:
    """The Wechatpay-* headers of an answer or a notification, signed (now by default)."""
    timestamp = timestamp or str(int(time.time()))
    nonce = new_nonce()
    return {
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: rsa_sign(key, answer_message(timestamp, nonce, body)),
        HEADER_SERIAL: serial,
    }


def verify_signed(
    key: rsa.RSAPublicKey,
    serial: str,
    headers: Any,
    body: str,
    *,
    window: int,
    now: float | None = None,
) -> None:
    """Check the Wechatpay-* headers of an answer or a notification, or raise
    PayProtocolError: the serial, the timestamp within ``window`` seconds, the signature."""
    timestamp = headers.get(HEADER_TIMESTAMP) or ""
    nonce = headers.get(HEADER_NONCE) or ""
    signature = headers.get(HEADER_SIGNATURE) or ""
    if not hmac.compare_digest(str(headers.get(HEADER_SERIAL) or ""), serial):
        raise PayProtocolError("unknown Wechatpay-Serial")
    try:
        moment = int(timestamp)
    except ValueError:
        raise PayProtocolError("Wechatpay-Timestamp is not a number") from None
    if abs((time.time() if now is None else now) - moment) > window:
        raise PayProtocolError("Wechatpay-Timestamp outside the window")
    if not nonce or not rsa_verify(key, answer_message(timestamp, nonce, body), signature):
        raise PayProtocolError("bad Wechatpay-Signature")


def aead_encrypt(apiv3_key: str, plaintext: bytes, nonce: str, associated_data: str) -> str:
    """Base64 AEAD_AES_256_GCM ciphertext (with its tag) of a notification's resource."""
    cipher = AESGCM(apiv3_key.encode("utf-8"))
    raw = cipher.encrypt(nonce.encode("utf-8"), plaintext, associated_data.encode("utf-8"))
    return base64.b64encode(raw).decode("ascii")


def aead_decrypt(apiv3_key: str, ciphertext: str, nonce: str, associated_data: str) -> bytes:
    """The plaintext of a resource, or PayProtocolError when it does not decrypt."""
    try:
        cipher = AESGCM(apiv3_key.encode("utf-8"))
        raw = base64.b64decode(ciphertext, validate=True)
        return cipher.decrypt(nonce.encode("utf-8"), raw, associated_data.encode("utf-8"))
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise PayProtocolError(f"resource does not decrypt ({type(exc).__name__})") from None


def decrypt_resource(apiv3_key: str, resource: Any) -> dict[str, Any]:
    """The JSON object inside a notification's resource."""
    if not isinstance(resource, dict) or resource.get("algorithm") != ALGORITHM:
        raise PayProtocolError("resource is not AEAD_AES_256_GCM")
    parts = [resource.get(k) for k in ("ciphertext", "nonce", "associated_data")]
    if not all(isinstance(p, str) for p in parts[:2]):
        raise PayProtocolError("resource lacks ciphertext or nonce")
    plain = aead_decrypt(apiv3_key, parts[0], parts[1], parts[2] or "")
    try:
        data = json.loads(plain)
    except ValueError:
        raise PayProtocolError("resource is not JSON") from None
    if not isinstance(data, dict):
        raise PayProtocolError("resource is not a JSON object")
    return data


def request_payment_params(
    appid: str, key: rsa.RSAPrivateKey, prepay_id: str, *, timestamp: str | None = None
) -> dict[str, str]:
    """The parameters of ``wx.requestPayment`` for a prepay id, signed with the merchant key."""
    timestamp = timestamp or str(int(time.time()))
    nonce = new_nonce()
    package = f"prepay_id={prepay_id}"
    sign = rsa_sign(key, f"{appid}\n{timestamp}\n{nonce}\n{package}\n")
    return {
        "appId": appid,
        "timeStamp": timestamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": sign,
    }


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


@dataclass
class PayClient:
    """Calls to WeChat Pay v3 as one merchant; every answer's signature is verified."""

    mchid: str
    serial: str
    private_key: rsa.RSAPrivateKey
    platform_key: rsa.RSAPublicKey
    platform_serial: str
    base_url: str = BASE_URL
    timeout: tuple[float, float] = (4.0, 10.0)
    window: int = 300
    session: requests.Session = field(default_factory=requests.Session)

    def call(
        self, method: str, path: str, payload: Any = None, *, signed_answer: bool = True
    ) -> tuple[int, bytes]:
        """Send one signed request; return (status, body) of a 2xx answer, else PayApiError."""
        body = "" if payload is None else _dumps(payload)
        headers = {
            "Authorization": authorization(
                self.mchid, self.serial, self.private_key, method, path, body
            ),
            "Accept": "application/json",
            "User-Agent": "zhibu-wxpay/1",
        }
        if payload is not None:
            headers["Content-Type"] = "application/json"
        try:
            answer = self.session.request(
                method,
                self.base_url.rstrip("/") + path,
                data=body.encode("utf-8") if payload is not None else None,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise PayApiError(0, "NETWORK", type(exc).__name__) from None
        text = answer.content.decode("utf-8", "replace")
        if signed_answer or answer.status_code >= 300:
            try:
                verify_signed(
                    self.platform_key, self.platform_serial, answer.headers, text,
                    window=self.window,
                )  # fmt: skip
            except PayProtocolError as exc:
                raise PayApiError(answer.status_code, "BAD_SIGNATURE", str(exc)) from None
        if answer.status_code >= 300:
            try:
                error = json.loads(text)
            except ValueError:
                error = {}
            error = error if isinstance(error, dict) else {}
            raise PayApiError(
                answer.status_code, str(error.get("code", "")), str(error.get("message", ""))
            )
        return answer.status_code, answer.content

    def _json(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        _, raw = self.call(method, path, payload)
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
        """Create (or find again) a JSAPI/mini-program order; return its prepay_id."""
        payload = {
            "appid": appid,
            "mchid": self.mchid,
            "description": description,
            "out_trade_no": out_trade_no,
            "notify_url": notify_url,
            "amount": {"total": total_fen, "currency": "CNY"},
            "payer": {"openid": openid},
        }
        prepay_id = self._json("POST", "/v3/pay/transactions/jsapi", payload).get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise PayApiError(200, "BAD_ANSWER", "no prepay_id")
        return prepay_id

    def query(self, out_trade_no: str) -> dict[str, Any]:
        """An order as WeChat Pay knows it (trade_state, transaction_id, amount, ...)."""
        return self._json(
            "GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={self.mchid}"
        )

    def close(self, out_trade_no: str) -> None:
        """Close an unpaid order (204); a paid one answers 400 ORDERPAID."""
        self.call(
            "POST",
            f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
            {"mchid": self.mchid},
        )

    def refund(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Ask for a refund (out_trade_no, out_refund_no, reason, notify_url, amount)."""
        return self._json("POST", "/v3/refund/domestic/refunds", payload)

    def refund_query(self, out_refund_no: str) -> dict[str, Any]:
        """A refund as WeChat Pay knows it (status: PROCESSING, SUCCESS, ABNORMAL, CLOSED)."""
        return self._json("GET", f"/v3/refund/domestic/refunds/{out_refund_no}")

    def trade_bill(self, bill_date: str) -> str:
        """The day's trade bill (ALL) as WeChat Pay serves it: text lines, fields with "`"."""
        info = self._json("GET", f"/v3/bill/tradebill?bill_date={bill_date}&bill_type=ALL")
        url = info.get("download_url")
        if not isinstance(url, str) or not url.startswith(self.base_url.rstrip("/") + "/"):
            raise PayApiError(200, "BAD_ANSWER", "download_url is not the gateway's")
        # The file itself is not signed (WeChat Pay's rule): its SHA1 is in the answer.
        _, raw = self.call("GET", url[len(self.base_url.rstrip("/")) :], signed_answer=False)
        if info.get("hash_type") == "SHA1":
            digest = hashes.Hash(hashes.SHA1())  # noqa: S303 - WeChat Pay's own bill digest
            digest.update(raw)
            if digest.finalize().hex() != str(info.get("hash_value", "")).lower():
                raise PayApiError(200, "BAD_ANSWER", "bill hash does not match")
        return raw.decode("utf-8")
