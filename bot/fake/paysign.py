"""WeChat Pay's own side of API v3 for the fake: checking a merchant's Authorization, signing
answers and notifications with the platform key, encrypting a notification's resource.

- a request carries ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,nonce_str=…,
  signature=…,timestamp=…,serial_no=…``, RSA-SHA256 (PKCS#1 v1.5) with the merchant's key over
  "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n";
- an answer and a notification carry Wechatpay-Timestamp, -Nonce, -Signature, -Serial and
  -Signature-Type, the signature over "TIMESTAMP\\nNONCE\\nBODY\\n" with the platform key;
- a notification's ``resource`` is AEAD_AES_256_GCM with the merchant's 32-byte APIv3 key.

The merchant's side (the app) is the wechatpayv3 SDK, behind core/wxpay.py.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
ALGORITHM = "AEAD_AES_256_GCM"
_AUTH_PART = re.compile(r'(\w+)="([^"]*)"')


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("expected an RSA public key")
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: str) -> str:
    raw = key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(raw).decode("ascii")


def rsa_verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(method: str, path: str, timestamp: str, nonce: str, body: str) -> str:
    """What a request's Authorization signs."""
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"


def parse_authorization(header: str) -> dict[str, str] | None:
    """The parts of an Authorization header, or None when it is not WeChat Pay's schema."""
    schema, _, rest = header.partition(" ")
    if schema != SCHEMA:
        return None
    parts = dict(_AUTH_PART.findall(rest))
    wanted = {"mchid", "nonce_str", "signature", "timestamp", "serial_no"}
    return parts if wanted <= parts.keys() else None


def signed_headers(
    key: rsa.RSAPrivateKey, serial: str, body: str, *, timestamp: str
) -> dict[str, str]:
    """The Wechatpay-* headers of an answer or a notification, as WeChat Pay sends them."""
    nonce = secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa_sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": SCHEMA,
    }


def aead_encrypt(apiv3_key: str, plaintext: bytes, nonce: str, associated_data: str) -> str:
    """Base64 AEAD_AES_256_GCM ciphertext (with its tag) of a notification's resource."""
    cipher = AESGCM(apiv3_key.encode("utf-8"))
    raw = cipher.encrypt(nonce.encode("utf-8"), plaintext, associated_data.encode("utf-8"))
    return base64.b64encode(raw).decode("ascii")
