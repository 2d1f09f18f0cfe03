"""Mini-program API sessions: one row per login, so a token can be revoked before it expires."""

from __future__ import annotations

from peewee import CharField, ForeignKeyField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Member


class ApiSession(BaseModel):
    # The mini-program account that logged in; member is set once it is bound (null before).
    openid = CharField(max_length=64, index=True)
    member = ForeignKeyField(Member, null=True, backref="api_sessions", on_delete="CASCADE")
    issued_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    revoked_at = UTCDateTimeField(null=True)
