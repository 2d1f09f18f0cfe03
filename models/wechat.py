"""WeChat accounts bound to members, binding codes, inbound dedupe and rate-limit events."""

from __future__ import annotations

from peewee import CharField, ForeignKeyField, TextField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Member


class WechatBinding(BaseModel):
    # "oa" = the official account, "mini" = the mini-program: their openids differ.
    openid = CharField(max_length=64, unique=True)
    app = CharField(max_length=8, default="oa")
    unionid = CharField(max_length=64, null=True, index=True)
    member = ForeignKeyField(Member, backref="bindings", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "app"), True),)


class BindCode(BaseModel):
    # Only an HMAC of the code is kept; the plain code exists once, in the secretary's CSV.
    code_hash = CharField(max_length=64, unique=True)
    member = ForeignKeyField(Member, backref="bind_codes", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)
    used_by = CharField(max_length=64, null=True)


class InboundMessage(BaseModel):
    """One row per callback message or event: a retry finds it and gets the same reply."""

    dedupe_key = CharField(max_length=128, unique=True)
    openid = CharField(max_length=64, index=True)
    reply = TextField(null=True)
    created_at = UTCDateTimeField(default=utcnow, index=True)


class RateEvent(BaseModel):
    """A counted event (e.g. a wrong binding code) for sliding-window rate limits."""

    bucket = CharField(max_length=100)
    at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("bucket", "at"), False),)


class SharedValue(BaseModel):
    """Key-value storage shared by every process: WeChat access tokens and their expiry."""

    key = CharField(max_length=200, unique=True)
    value = TextField()
    expires_at = UTCDateTimeField(null=True)
    updated_at = UTCDateTimeField(default=utcnow)
