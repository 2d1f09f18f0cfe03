"""Developing members (发展党员): each person's dates through the stages, and their reviews.

The stage itself is the member's status (models.org.STATUSES: applicant → activist →
candidate → probationary → full); the record keeps the day of each step on the way.
"""

from __future__ import annotations

from peewee import DateField, ForeignKeyField, IntegerField, TextField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Member

# The stages of development, in order: the member statuses a person passes through.
STAGES: tuple[str, ...] = ("applicant", "activist", "candidate", "probationary", "full")

# The steps recorded, in their order, with their names (《发展党员工作细则》).
STEPS: dict[str, str] = {
    "apply": "递交入党申请",
    "talk": "入党谈话",
    "activist": "确定为入党积极分子",
    "contacts": "指定培养联系人",
    "review": "培养考察",
    "candidate": "确定为发展对象",
    "political_review": "政治审查",
    "training": "集中培训",
    "admit": "接收为预备党员",
    "extend": "延长预备期",
    "full": "转为正式党员",
}


class DevelopmentRecord(BaseModel):
    """One person's development: the day of each step (None until it is recorded)."""

    member = ForeignKeyField(Member, unique=True, backref="+", on_delete="CASCADE")
    applied_on = DateField(null=True)  # 递交入党申请书
    talked_on = DateField(null=True)  # 党组织派人谈话
    activist_on = DateField(null=True, index=True)  # 确定为入党积极分子
    contacts_on = DateField(null=True)  # 指定培养联系人
    contact_1 = ForeignKeyField(Member, null=True, backref="+", on_delete="SET NULL")
    contact_2 = ForeignKeyField(Member, null=True, backref="+", on_delete="SET NULL")
    candidate_on = DateField(null=True)  # 确定为发展对象
    political_review_on = DateField(null=True)  # 政治审查
    training_on = DateField(null=True)  # 集中培训
    admitted_on = DateField(null=True)  # 支部党员大会接收为预备党员
    extended_on = DateField(null=True)  # 延长预备期 decided
    extension_months = IntegerField(null=True)
    extension_reason = TextField(default="")
    full_on = DateField(null=True)  # 转为正式党员
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)


class DevelopmentReview(BaseModel):
    """A review (考察) of an activist or development object: its day and findings."""

    record = ForeignKeyField(DevelopmentRecord, backref="reviews", on_delete="CASCADE")
    on = DateField()
    note = TextField(default="")
    created_by = ForeignKeyField(Member, null=True, backref="+", on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("record", "on"), True),)


# Roster columns that carry a record's days (handlers.roster), by field name.
RECORD_DAYS = ("applied_on", "activist_on", "candidate_on")
