"""Add meetings, expected attendees, attendance and the shared key-value store."""

from peewee import CharField, ForeignKeyField, Model, TextField

from models.base import UTCDateTimeField

# Frozen copies of the models as of this migration; Python-side defaults are not schema.


def up(migrator, db):
    class Branch(Model):
        class Meta:
            database = db
            table_name = "branch"

    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class PartyGroup(Model):
        class Meta:
            database = db
            table_name = "party_group"

    class Meeting(Model):
        branch = ForeignKeyField(Branch, on_delete="RESTRICT")
        party_group = ForeignKeyField(PartyGroup, null=True, on_delete="RESTRICT")
        kind = CharField(max_length=20)
        title = CharField(max_length=200, default="")
        place = CharField(max_length=200, default="")
        starts_at = UTCDateTimeField(index=True)
        ends_at = UTCDateTimeField()
        host = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorder = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        minutes = TextField(default="")
        decisions = TextField(default="")
        status = CharField(max_length=12, default="scheduled")
        signin_code = CharField(index=True, null=True, max_length=12)
        qr_scene = CharField(unique=True, max_length=64)
        qr_ticket = CharField(null=True, max_length=200)
        qr_url = CharField(null=True, max_length=300)
        qr_expires_at = UTCDateTimeField(null=True)
        created_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "meeting"

    db.create_tables([Meeting])

    class Attendance(Model):
        meeting = ForeignKeyField(Meeting, on_delete="CASCADE")
        member = ForeignKeyField(Member, on_delete="CASCADE")
        status = CharField(max_length=8)
        method = CharField(max_length=8, default="")
        leave_reason = CharField(max_length=200, default="")
        leave_status = CharField(max_length=10, default="")
        decided_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "attendance"
            indexes = ((("meeting", "member"), True),)

    db.create_tables([Attendance])

    class MeetingAttendee(Model):
        meeting = ForeignKeyField(Meeting, on_delete="CASCADE")
        member = ForeignKeyField(Member, on_delete="CASCADE")

        class Meta:
            database = db
            table_name = "meeting_attendee"
            indexes = ((("meeting", "member"), True),)

    db.create_tables([MeetingAttendee])

    class SharedValue(Model):
        key = CharField(unique=True, max_length=200)
        value = TextField()
        expires_at = UTCDateTimeField(null=True)
        updated_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "shared_value"

    db.create_tables([SharedValue])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("shared_value"))
    migrator.migrate(migrator.drop_table("meeting_attendee"))
    migrator.migrate(migrator.drop_table("attendance"))
    migrator.migrate(migrator.drop_table("meeting"))
