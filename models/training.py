"""学时: training a secretary records for members besides the meetings that count (a county
course, a party school class), with its hours."""

from __future__ import annotations

from peewee import CharField, DateField, ForeignKeyField, IntegerField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Branch, Member


class TrainingRecord(BaseModel):
    """One member's training outside the branch's meetings: title, day and minutes."""

    member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
    branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
    title = CharField(max_length=200)
    day = DateField()  # the local day of the training (its last day for a course)
    minutes = IntegerField()
    created_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "day"), False), (("branch", "day"), False))
