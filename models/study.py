"""Study topics pushed to branches and members' check-ins with reflections."""

from __future__ import annotations

from peewee import CharField, DateField, ForeignKeyField, IntegerField, TextField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Branch, Committee, Member

# A study topic's category (类别) in a study plan, by code.
TOPIC_CATEGORIES: dict[str, str] = {
    "charter": "学党章党规",
    "speeches": "学系列讲话",
    "other": "其他",
}


class StudyTopic(BaseModel):
    """A day's topic, for one branch, one committee's branches, or everyone (both null).

    A branch's topic for a day overrides its committee's, which overrides everyone's.
    """

    day = DateField(index=True)
    title = CharField(max_length=200)
    category = CharField(max_length=16, default="other")  # a key of TOPIC_CATEGORIES
    content = TextField(default="")
    url = CharField(max_length=500, default="")
    committee = ForeignKeyField(Committee, null=True, on_delete="CASCADE")
    branch = ForeignKeyField(Branch, null=True, on_delete="CASCADE")
    created_at = UTCDateTimeField(default=utcnow)


class StudyCheckin(BaseModel):
    # Found through the unique (member, day, topic_key) index below: no index of its own.
    member = ForeignKeyField(Member, backref="checkins", on_delete="CASCADE", index=False)
    day = DateField()  # the member's local calendar day
    topic = ForeignKeyField(StudyTopic, null=True, on_delete="SET NULL")
    # topic id, or 0 for a general study record; NULLs would defeat the unique index.
    topic_key = IntegerField(default=0)
    reflection = TextField(default="")
    source = CharField(max_length=8, default="bot")
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "day", "topic_key"), True),)


# The check-ins that still hold a reflection, by day: what the prune job reads (migration 0023).
StudyCheckin.add_index(
    StudyCheckin.index(
        StudyCheckin.day, name="study_checkin_reflected_day", where=StudyCheckin.reflection != ""
    )
)
