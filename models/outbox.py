"""Push channels and the outbox: branch group channels, member contacts, subscribe credits.

Jobs never send: they write ``OutboxMessage`` rows, one per (kind, target, period) by a unique
index, and the drain (``handlers.outbox.drain``) sends them. Robot keys and chat ids are secrets:
``BranchChannel.target`` is never logged and shown only masked (``mask_target``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, TextField

from core.clock import utcnow
from core.logs import redact_sql_params_of
from models.base import BaseModel, UTCDateTimeField
from models.org import Branch, Member

# Group channel kinds a branch can configure (BranchChannel.kind).
GROUP_KINDS: dict[str, str] = {
    "wecom_robot": "企业微信群机器人",
    "wecom_appchat": "企业微信应用群聊",
    "console": "控制台（演示）",
}
# Personal channel kinds, chosen per member from what the member has (see handlers.outbox).
PERSONAL_KINDS: dict[str, str] = {
    "wecom_app": "企业微信应用消息",
    "template": "公众号模板消息",
    "subscribe": "小程序订阅消息",
}
TARGET_TYPES = ("branch", "member")
# pending -> sending -> sent | dead | skipped; a failed or deferred send goes back to pending.
# skipped: the target has no usable channel (nothing to retry, nobody to alarm).
STATUSES = ("pending", "sending", "sent", "dead", "skipped")
# The kind of the notices the secretary gets about dead rows; these never beget notices.
DEAD_NOTICE_KIND = "outbox_dead_notice"
LAST_ERROR_MAX = 300


class BranchChannel(BaseModel):
    """A branch's group channel: a WeCom robot key, a WeCom app chat id, or the console."""

    branch = ForeignKeyField(Branch, unique=True, backref="+", on_delete="CASCADE")
    kind = CharField(max_length=16)
    # The robot key or the chat id: a secret. Never logged; shown masked.
    target = CharField(max_length=200, default="")
    # @-mention the members a message names (by WeCom userid, else by mobile).
    mention = BooleanField(default=True)
    # Optional pushes the branch turns on (evening nudge, Saturday volunteer prompt).
    nudge_enabled = BooleanField(default=False)
    volunteer_enabled = BooleanField(default=False)
    updated_at = UTCDateTimeField(default=utcnow)

    def __repr__(self) -> str:
        return f"<BranchChannel branch={self.branch_id} kind={self.kind} target={self.masked}>"

    @property
    def masked(self) -> str:
        return mask_target(self.target)


class MemberContact(BaseModel):
    """What a member can be reached by beyond their WeChat bindings: a WeCom userid."""

    member = ForeignKeyField(Member, unique=True, backref="+", on_delete="CASCADE")
    wecom_userid = CharField(max_length=64, null=True)
    updated_at = UTCDateTimeField(default=utcnow)


class SubscribeCredit(BaseModel):
    """Mini-program subscribe-message credits: one per accept, one spent per send."""

    openid = CharField(max_length=64)
    template_id = CharField(max_length=64)
    credits = IntegerField(default=0)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("openid", "template_id"), True),)


class OutboxMessage(BaseModel):
    """One message to send: to a branch's group or to one member, exactly once per key."""

    kind = CharField(max_length=40)  # study_prompt, meeting_reminder, outbox_dead_notice, ...
    target_type = CharField(max_length=8)  # "branch" or "member"
    target_id = IntegerField()
    period = CharField(max_length=64)  # what makes it unique over time: "2026-03-02", "24h"...
    # The branch whose secretary hears about the row if it dies.
    branch = ForeignKeyField(Branch, backref="+", on_delete="CASCADE")
    # The channel kind of the last attempt (GROUP_KINDS or PERSONAL_KINDS), "" before one.
    channel = CharField(max_length=16, default="")
    payload = TextField()  # JSON: see handlers.outbox for the fields
    status = CharField(max_length=8, default="pending")
    attempts = IntegerField(default=0)
    # Parts already accepted by the channel (long texts are split), so a retry goes on from here.
    parts_sent = IntegerField(default=0)
    # A subscribe credit was taken for this row; a retry must not take another.
    credit_spent = BooleanField(default=False)
    next_attempt_at = UTCDateTimeField()
    claimed_at = UTCDateTimeField(null=True)
    last_error = CharField(max_length=LAST_ERROR_MAX, default="")  # never holds a secret
    created_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)
    # When the payload of this finished row was cut to PRUNED_PAYLOAD (retention), else null.
    pruned_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = (
            (("kind", "target_type", "target_id", "period"), True),
            (("status", "next_attempt_at"), False),
        )

    @property
    def data(self) -> dict[str, Any]:
        """Return the decoded payload ({} when it is not a JSON object)."""
        try:
            value = json.loads(self.payload)
        except ValueError:
            logging.getLogger(__name__).warning("Outbox row %s has a bad payload", self.id)
            return {}
        return value if isinstance(value, dict) else {}


# The rows whose payload is still whole, by age: what the prune job reads (migration 0023).
OutboxMessage.add_index(
    OutboxMessage.index(
        OutboxMessage.created_at,
        name="outbox_message_unpruned_created_at",
        where=OutboxMessage.pruned_at.is_null(),
    )
)
# What a finished row's payload becomes after retention.outbox_payload_days: its kind,
# recipient, period, status and times stay on the row.
PRUNED_TEXT = "（内容已超过保存期限，已删除）"
PRUNED_PAYLOAD = json.dumps({"text": PRUNED_TEXT}, ensure_ascii=False)

redact_sql_params_of(BranchChannel._meta.table_name)


def mask_target(value: str | None) -> str:
    """Show a robot key or chat id safely: its first and last 4 characters at most."""
    if not value:
        return ""
    if len(value) < 16:
        return "****"
    return f"{value[:4]}****{value[-4:]}"


def secret_digest(value: str) -> str:
    """Return a short, stable digest of a secret (robot key, chat id) for buckets and lanes."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:16]
