"""The audit log: one row per change a manager made, never changed or deleted afterwards.

Rows name their actor, branch and committee by id, not by foreign key, so that deleting a
member or a branch never has to touch the log; the database refuses UPDATE and DELETE on the
table (triggers of migration 0011).
"""

from __future__ import annotations

from peewee import CharField, IntegerField, TextField

from models.base import BaseModel, UTCDateTimeField

# The front doors a change can come through, as the console shows them.
DOOR_LABELS: dict[str, str] = {
    "bot": "公众号",
    "api": "小程序",
    "console": "控制台",
    "cli": "命令行",
    "job": "定时任务",
}
OPERATOR_NAME = "服务器操作员"  # the actor of a change made at the server's command line


class AuditEntry(BaseModel):
    at = UTCDateTimeField(index=True)
    actor_id = IntegerField(null=True)
    actor_name = CharField(max_length=50)
    door = CharField(max_length=8)
    action = CharField(max_length=40)
    branch_id = IntegerField(null=True, index=True)
    committee_id = IntegerField(null=True, index=True)
    target = CharField(max_length=60, default="")
    summary = CharField(max_length=200)
    before = TextField(default="")  # JSON of the fields before the change, "" when none
    after = TextField(default="")  # JSON of the same fields after it

    class Meta:
        table_name = "audit_entry"
