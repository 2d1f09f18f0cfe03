"""Add volunteer service entries, training records and the members' birth dates."""

from peewee import CharField, DateField, ForeignKeyField, IntegerField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class Branch(Model):
        class Meta:
            database = db
            table_name = "branch"

    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class VolunteerEntry(Model):
        member = ForeignKeyField(Member, on_delete="CASCADE", backref="+")
        branch = ForeignKeyField(Branch, on_delete="RESTRICT", backref="+")
        day = DateField()
        minutes = IntegerField()
        description = CharField(max_length=200)
        status = CharField(max_length=10, default="pending", index=True)
        source = CharField(max_length=8, default="bot")
        reason = CharField(max_length=200, default="")
        decided_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        decided_at = UTCDateTimeField(null=True)
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "volunteer_entry"
            indexes = ((("branch", "day"), False), (("member", "day"), False))

    class TrainingRecord(Model):
        member = ForeignKeyField(Member, on_delete="CASCADE", backref="+")
        branch = ForeignKeyField(Branch, on_delete="RESTRICT", backref="+")
        title = CharField(max_length=200)
        day = DateField()
        minutes = IntegerField()
        created_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "training_record"
            indexes = ((("member", "day"), False), (("branch", "day"), False))

    db.create_tables([VolunteerEntry, TrainingRecord])
    migrator.migrate(migrator.add_column("member", "birth_date", DateField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("member", "birth_date"))
    migrator.migrate(migrator.drop_table("training_record"))
    migrator.migrate(migrator.drop_table("volunteer_entry"))
