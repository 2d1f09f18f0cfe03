"""A member's download links of their own data (我的数据).

Only the hash of a link's token is stored: the plain token exists once, in the link. A link
belongs to one member, expires, and is used once.
"""

from __future__ import annotations

from peewee import CharField, ForeignKeyField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Member


class ExportLink(BaseModel):
    token_hash = CharField(max_length=64, unique=True)
    member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)
