"""WeChat accounts bound to members, binding codes, inbound dedupe and rate-limit events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peewee import CharField, ForeignKeyField, Select, TextField, fn

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Member
from models.prepared import fetchone


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
    openid = CharField(max_length=64)  # never looked up by: no index (see migration 0026)
    reply = TextField(null=True)
    created_at = UTCDateTimeField(default=utcnow, index=True)


def stored_reply(key: str) -> tuple[str | None] | None:
    """The reply stored for a dedupe key, as a one-tuple (it may be None), or None."""
    return fetchone(
        "inbound_reply",
        lambda v: (
            InboundMessage.select(InboundMessage.reply)
            .where(InboundMessage.dedupe_key == v["key"])
            .limit(1)
        ),
        {"key": key},
    )


def answered(v: Mapping[str, Any]) -> Select:
    """A scalar subquery: the reply stored for the dedupe key ``v["key"]`` ('' for a stored
    None: nothing to say either way), or NULL when the message has no dedupe row yet."""
    return (
        InboundMessage.select(fn.COALESCE(InboundMessage.reply, ""))
        .where(InboundMessage.dedupe_key == v["key"])
        .limit(1)
    )


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
