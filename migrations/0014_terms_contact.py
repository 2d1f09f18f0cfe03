"""Add branch committee terms (换届) and lost-contact follow-up outcomes (失联党员)."""

from peewee import CharField, DateField, ForeignKeyField, IntegerField, Model, TextField

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

    class BranchTerm(Model):
        branch = ForeignKeyField(Branch, on_delete="RESTRICT")
        started_on = DateField()
        years = IntegerField(null=True)
        note = TextField(default="")
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "branch_term"
            indexes = ((("branch", "started_on"), True),)

    class ContactOutcome(Model):
        member = ForeignKeyField(Member, on_delete="CASCADE", backref="+")
        outcome = CharField(max_length=12)
        happened_on = DateField(index=True)
        place = CharField(max_length=100, default="")
        note = TextField(default="")
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "contact_outcome"
            indexes = ((("member", "happened_on"), False),)

    db.create_tables([BranchTerm, ContactOutcome])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("contact_outcome"))
    migrator.migrate(migrator.drop_table("branch_term"))
