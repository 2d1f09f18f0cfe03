"""Temporary parametric QR codes: their checks and image URLs."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bot.clients.constants import OFFICIAL_API_ROOT, QR_MAX_EXPIRE, SCENE_MAX_LEN, SHOWQRCODE_URL
from bot.clients.tokens import api_root

log = logging.getLogger("bot.clients")  # the package's one logger, whichever module logs


@dataclass(frozen=True)
class QrCode:
    """Describe one temporary parametric QR code: its ticket, image URL and expiry."""

    ticket: str
    url: str  # the image (showqrcode) URL
    expires_at: datetime
    content_url: str = ""  # the URL the QR encodes, to render the image locally


def qr_image_url(ticket: str, api_base_url: str) -> str:
    """Return the image URL of a QR ticket, like wechatpy's ``qrcode.get_url``.

    The production image host (mp.weixin.qq.com) differs from the API host and has no setting
    of its own; when api_base_url is the production API, the fixed SHOWQRCODE_URL is used.
    Any other base (the local fake, the demo) serves /cgi-bin/showqrcode itself.
    """
    root = api_root(api_base_url)
    base = SHOWQRCODE_URL if root == OFFICIAL_API_ROOT else root + "/cgi-bin/showqrcode"
    return f"{base}?ticket={quote(ticket, safe='')}"


def check_scene(scene: Any) -> str:
    """Return a valid scene string or raise ValueError."""
    if not isinstance(scene, str) or not 1 <= len(scene) <= SCENE_MAX_LEN:
        raise ValueError(f"scene must be a string of 1 to {SCENE_MAX_LEN} characters")
    if not scene.isprintable():
        raise ValueError("scene must not contain control characters")
    return scene


def capped_expire(expire_seconds: Any) -> int:
    """Return a positive QR lifetime capped at QR_MAX_EXPIRE, or raise ValueError."""
    if isinstance(expire_seconds, bool) or not isinstance(expire_seconds, int):
        raise ValueError("expire_seconds must be an integer")
    if expire_seconds < 1:
        raise ValueError("expire_seconds must be at least 1")
    if expire_seconds > QR_MAX_EXPIRE:
        log.debug("QR lifetime %d s capped at %d s", expire_seconds, QR_MAX_EXPIRE)
    return min(expire_seconds, QR_MAX_EXPIRE)
