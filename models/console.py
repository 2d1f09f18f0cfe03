"""The web console's logins (one-time links and QR scans) and its browser sessions.

Only hashes of the secrets are stored: a login link's token and a browser's session id each
exist in plain form once, in the link and in the browser's signed cookie.
"""

from __future__ import annotations

from peewee import CharField, ForeignKeyField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Member

LOGIN_KINDS = ("link", "qr")


class ConsoleLogin(BaseModel):
    """A login waiting to be used: a link sent to a manager, or a QR code shown to a browser.

    A link is the member's from the start; a QR login gets its member when a manager scans the
    code in the Official Account (approved_at), and is used once by the browser that showed it.
    """

    kind = CharField(max_length=8)  # one of LOGIN_KINDS
    token_hash = CharField(max_length=64, unique=True)  # the link's token, or the browser's key
    scene = CharField(max_length=64, null=True, unique=True)  # the QR code's scene
    member = ForeignKeyField(Member, null=True, backref="console_logins", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()
    approved_at = UTCDateTimeField(null=True)
    used_at = UTCDateTimeField(null=True)


class ConsoleSession(BaseModel):
    """One logged-in browser: ended by logout, by idling, by its age, or by unbinding."""

    sid_hash = CharField(max_length=64, unique=True)
    member = ForeignKeyField(Member, backref="console_sessions", on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)
    last_seen_at = UTCDateTimeField(default=utcnow)
    expires_at = UTCDateTimeField()  # the absolute limit, whatever the activity
    ended_at = UTCDateTimeField(null=True)
    end_reason = CharField(max_length=16, default="")  # logout, idle, unbound, expired
