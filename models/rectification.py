"""Rectification lists (问题清单、任务清单、责任清单): items with an owner and a deadline, and
the notes on their progress and evidence."""

from __future__ import annotations

from peewee import CharField, DateField, ForeignKeyField, IntegerField, TextField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Branch, Member

# The three lists an item belongs to (DOMAIN.md), by code.
LIST_KINDS: dict[str, str] = {"problem": "问题清单", "task": "任务清单", "duty": "责任清单"}
# Where an item comes from.
SOURCES: dict[str, str] = {
    "inspection": "上级检查",
    "patrol": "巡察",
    "life_meeting": "组织生活会",
    "self_check": "自查",
}
# open -> in_progress -> done -> verified; a refused verification sends done back to in_progress.
STATUSES: dict[str, str] = {
    "open": "待整改",
    "in_progress": "整改中",
    "done": "已完成待验收",
    "verified": "已验收",
}
CLOSED = ("done", "verified")
# Who raised an item: the branch itself, or the committee above it (its admins verify it).
RAISERS: dict[str, str] = {"branch": "本支部", "committee": "党委"}
# What a note records.
NOTE_KINDS: dict[str, str] = {
    "progress": "进展",
    "done": "完成情况",
    "refused": "验收未通过",
    "verified": "验收通过",
}


class RectificationItem(BaseModel):
    """One item of a branch's lists; ``number`` (编号) is what people see, per branch.

    The owner is a member of the branch (``owner``) or a role (``owner_role``): then every
    member of the branch holding that role.
    """

    branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
    number = IntegerField()
    kind = CharField(max_length=12)  # a key of LIST_KINDS
    source = CharField(max_length=16)  # a key of SOURCES
    problem = TextField()
    measure = TextField(default="")
    owner = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    owner_role = CharField(max_length=24, default="")
    deadline = DateField(index=True)  # the local day it is due by
    status = CharField(max_length=12, default="open", index=True)
    raised_by = CharField(max_length=10, default="branch")  # a key of RAISERS
    done_at = UTCDateTimeField(null=True)
    done_on = DateField(null=True)  # the local day it was marked done (on time or late)
    verified_at = UTCDateTimeField(null=True)
    verified_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    created_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("branch", "number"), True),)

    @property
    def kind_label(self) -> str:
        return LIST_KINDS.get(self.kind, self.kind)

    @property
    def source_label(self) -> str:
        return SOURCES.get(self.source, self.source)

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)

    @property
    def closed(self) -> bool:
        return self.status in CLOSED


class RectificationNote(BaseModel):
    """A note on an item: progress, what was done (the evidence), a verification's outcome."""

    item = ForeignKeyField(RectificationItem, backref="notes", on_delete="CASCADE")
    author = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    kind = CharField(max_length=12, default="progress")  # a key of NOTE_KINDS
    text = TextField()
    at = UTCDateTimeField(default=utcnow)

    @property
    def kind_label(self) -> str:
        return NOTE_KINDS.get(self.kind, self.kind)
