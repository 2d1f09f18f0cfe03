"""Mini-program API sessions: one row per login, so a token can be revoked before it expires."""

from __future__ import annotations

import secrets

from peewee import CharField, ForeignKeyField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Member

# A session's public id, the "sid" signed into its token: random (not the row id), so knowing
# the signing key is not enough to name someone's session.
TOKEN_ID_BYTES = 24
TOKEN_ID_CHARS = 32  # secrets.token_urlsafe(24)


def new_token_id() -> str:
    return secrets.token_urlsafe(TOKEN_ID_BYTES)


class ApiSession(BaseModel):
    token_id = CharField(max_length=TOKEN_ID_CHARS, unique=True, default=new_token_id)
    # The mini-program account that logged in; member is set once it is bound (null before).
    openid = CharField(max_length=64, index=True)
    member = ForeignKeyField(Member, null=True, backref="api_sessions", on_delete="CASCADE")
    issued_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField(index=True)
    revoked_at = UTCDateTimeField(null=True)
