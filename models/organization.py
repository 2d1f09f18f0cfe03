"""A branch's organizational health: its committee's terms (换届) and the outcomes a secretary
records for members flagged as lost contact (失联党员)."""

from __future__ import annotations

from peewee import CharField, DateField, ForeignKeyField, IntegerField, TextField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Branch, Member

# What a secretary found when following up a member flagged as lost contact, by code.
OUTCOMES: dict[str, str] = {
    "reached": "联系上",
    "away": "流动党员",
    "lost": "仍未联系上",
    "stopping": "已启动停止党籍程序",
}


class BranchTerm(BaseModel):
    """One recorded election of a branch committee: the term starts on ``started_on`` and
    lasts ``years`` years ([terms] years when null). The latest start is the current term;
    earlier ones are its history."""

    branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
    started_on = DateField()
    years = IntegerField(null=True)  # a branch's own length (village branches: 5); null: setting
    note = TextField(default="")
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("branch", "started_on"), True),)


class ContactOutcome(BaseModel):
    """What the secretary found about a member flagged as lost contact, on a day. Recording one
    never changes the member's status; the latest one decides whether the case is handled."""

    member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
    outcome = CharField(max_length=12)  # a key of OUTCOMES
    happened_on = DateField(index=True)
    place = CharField(max_length=100, default="")  # where a 流动党员 is
    note = TextField(default="")
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "happened_on"), False),)

    @property
    def outcome_label(self) -> str:
        return OUTCOMES.get(self.outcome, self.outcome)
