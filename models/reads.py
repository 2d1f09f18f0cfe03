"""The read log (查阅记录): who opened one member's detail, or downloaded a file naming members.

One ``ReadEntry`` per read (a page opened, a file downloaded) with who, when, through which
door, what, and how many members it named; one ``ReadMember`` per member it named, so that
"who looked at member X" is one indexed look-up. Rows name people, branches and committees by
id, not by foreign key, so that deleting a member or a branch never touches the log; only the
retention prune (handlers.housekeeping) deletes rows, oldest first.
"""

from __future__ import annotations

from peewee import BooleanField, CharField, IntegerField

from models.base import BaseModel, UTCDateTimeField

# What was read, as the console and the API name it.
READ_KINDS: dict[str, str] = {
    "member": "党员详情",
    "development": "发展党员记录",
    "roster": "名册",
    "ledger": "党费收缴明细",
    "book": "组织生活记录本",
    "report": "支部月报",
}


class ReadEntry(BaseModel):
    at = UTCDateTimeField(index=True)
    actor_id = IntegerField(null=True, index=True)  # None: the server operator
    actor_name = CharField(max_length=50)
    door = CharField(max_length=8)
    kind = CharField(max_length=20)
    branch_id = IntegerField(null=True, index=True)  # None: a committee's file
    committee_id = IntegerField(null=True, index=True)
    subject = CharField(max_length=100)  # the member's name, or the file's name
    members = IntegerField(default=0)  # how many members it named
    full_phones = BooleanField(default=False)  # a roster with the full phone numbers

    class Meta:
        table_name = "read_entry"


class ReadMember(BaseModel):
    entry_id = IntegerField(index=True)
    member_id = IntegerField()

    class Meta:
        table_name = "read_member"
        indexes = ((("member_id", "entry_id"), True),)
