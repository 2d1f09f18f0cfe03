"""我的数据: a member sees and takes everything zhibu keeps about them.

A member asks (the bot's 我的数据, or GET /api/v1/me/export) and gets a download link: a random
token stored hashed with the member's id, valid export.link_minutes, used once; the link's
address names the member, and a token answers only with the address of its own member. Asking
is limited to export.per_hour links an hour. The data itself is built by handlers.privacy.data.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.config import Settings
from handlers.accounts import rate_limit
from handlers.errors import Invalid
from handlers.privacy.data import MemberData, export_bytes, member_data
from models.base import write_tx
from models.org import Member
from models.privacy import ExportLink

__all__ = [
    "ExportOffer",
    "MemberData",
    "export_bytes",
    "issue_export_link",
    "member_data",
    "redeem_export_link",
]

log = logging.getLogger(__name__)

LINK_UNUSABLE = "这个下载链接无效或已经用过。请在公众号重新发送“我的数据”获取新的链接。"
LINK_EXPIRED = (
    "这个下载链接已过期（有效 {minutes} 分钟）。请在公众号重新发送“我的数据”获取新的链接。"
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class ExportOffer:
    url: str  # the download address, holding the secret; shown once
    expires_at: datetime
    minutes: int


def export_path(member_id: int, token: str) -> str:
    """The download's path on the app: /export/<member id>/<token>."""
    return f"/export/{member_id}/{token}"


def issue_export_link(member: Member, *, settings: Settings, now: datetime) -> ExportOffer:
    """A one-time download link of the member's own data; refused (429) past export.per_hour."""
    rate_limit(f"export:{member.id}", settings.export.per_hour, now, window=timedelta(hours=1))
    token = secrets.token_urlsafe(24)
    minutes = settings.export.link_minutes
    expires = now + timedelta(minutes=minutes)
    with write_tx():
        ExportLink.create(
            token_hash=_hash(token), member=member.id, created_at=now, expires_at=expires
        )
    log.info("data export link issued to member id=%s", member.id)
    url = settings.console.base_url + export_path(member.id, token)
    return ExportOffer(url, expires, minutes)


def redeem_export_link(
    member_id: int, token: str, *, settings: Settings, now: datetime
) -> MemberData:
    """Use a download link once: its member's data, or a refusal saying why.

    The token must be the member's own (a token under another member's address refuses), not
    used, not expired.
    """
    with write_tx():
        link = ExportLink.get_or_none(
            ExportLink.token_hash == _hash(token), ExportLink.member == member_id
        )
        if link is None or link.used_at is not None:
            raise Invalid(LINK_UNUSABLE, errcode="link_used")
        if link.expires_at <= now:
            raise Invalid(
                LINK_EXPIRED.format(minutes=settings.export.link_minutes), errcode="link_expired"
            )
        done = (
            ExportLink.update(used_at=now)
            .where(ExportLink.id == link.id, ExportLink.used_at.is_null())
            .execute()
        )
        if done != 1:  # opened twice at the same moment
            raise Invalid(LINK_UNUSABLE, errcode="link_used")
        member = Member.get_or_none(Member.id == member_id)
        if member is None:
            raise Invalid(LINK_UNUSABLE, errcode="link_used")
    log.info("data export downloaded by member id=%s", member_id)
    return member_data(member, settings=settings, now=now)
