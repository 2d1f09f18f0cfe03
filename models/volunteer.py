"""党员志愿服务: service a member logged (周六扶贫日 and other days), for the secretary to
confirm."""

from __future__ import annotations

from peewee import CharField, DateField, ForeignKeyField, IntegerField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Branch, Member

# pending -> confirmed | rejected (with a reason); only confirmed service counts in totals.
STATUSES: dict[str, str] = {"pending": "待确认", "confirmed": "已确认", "rejected": "已退回"}
SOURCES = ("bot", "api")


class VolunteerEntry(BaseModel):
    """One member's service on one day: minutes (an integer) and what was done.

    ``branch`` is the member's branch when it was logged, so a branch's totals stay its own
    when a member moves.
    """

    member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
    branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
    day = DateField()  # the local day of the service
    minutes = IntegerField()
    description = CharField(max_length=200)
    status = CharField(max_length=10, default="pending", index=True)
    source = CharField(max_length=8, default="bot")  # one of SOURCES
    reason = CharField(max_length=200, default="")  # why it was sent back
    decided_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    decided_at = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("branch", "day"), False), (("member", "day"), False))

    @property
    def status_label(self) -> str:
        return STATUSES.get(self.status, self.status)
