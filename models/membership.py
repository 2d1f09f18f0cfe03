"""Leaving the branches of this deployment, and moving between them (转接组织关系).

A departure (``Departure``) is recorded once per member: why (转出, 去世, 出党, 停止党籍), the
day, who recorded it, and a keyed hash of the mobile number they had, so that a roster import
can recognise the person without the number being kept. A transfer (``Transfer``) records a
move from one branch of the deployment to another: from, to, the day, who recorded it.
"""

from __future__ import annotations

from peewee import CharField, DateField, ForeignKeyField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Branch, Member

# Why a member left, by code. 转出 is a transfer out of this deployment.
REASONS: dict[str, str] = {
    "transfer_out": "转出",
    "died": "去世",
    "expelled": "出党",
    "stopped": "停止党籍",
}
# Where a transfer came from: a manager's 转接 (the CLI, the console, the API) or a roster
# import that names another branch for a member.
TRANSFER_SOURCES: dict[str, str] = {"manual": "办理转接", "roster": "名册导入"}


class Departure(BaseModel):
    member = ForeignKeyField(Member, unique=True, backref="+", on_delete="CASCADE")
    reason = CharField(max_length=16)  # a key of REASONS
    left_on = DateField()
    branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")  # the branch they left
    # HMAC of the mobile number they had (app.secret_key): the roster import refuses a row
    # with that number instead of bringing the person back as a new member.
    phone_hash = CharField(max_length=64, index=True)
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_at = UTCDateTimeField(default=utcnow)

    @property
    def reason_label(self) -> str:
        return REASONS.get(self.reason, self.reason)


class Transfer(BaseModel):
    member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
    from_branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
    to_branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
    moved_on = DateField()
    source = CharField(max_length=8, default="manual")  # a key of TRANSFER_SOURCES
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "moved_on"), False),)

    @property
    def source_label(self) -> str:
        return TRANSFER_SOURCES.get(self.source, self.source)


class MemberReturn(BaseModel):
    """A member who had transferred out (转出) and came back (转回): the departure it undid,
    kept here when its row goes, and the day and branch they came back to."""

    member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
    left_reason = CharField(max_length=16)  # a key of REASONS (only transfer_out comes back)
    left_on = DateField()
    left_branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
    # The departure's keyed hash of the number they had: a roster row with that old number is
    # refused while they are on the roll under another one.
    phone_hash = CharField(max_length=64, index=True)
    returned_on = DateField()
    to_branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_at = UTCDateTimeField(default=utcnow)

    class Meta:
        table_name = "member_return"
        indexes = ((("member", "returned_on"), False),)
