"""Add the development pipeline (发展党员): each person's record of steps, and their reviews."""

from peewee import DateField, ForeignKeyField, IntegerField, Model, TextField

from models.base import UTCDateTimeField


def up(migrator, db):
    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class DevelopmentRecord(Model):
        member = ForeignKeyField(Member, unique=True, backref="+", on_delete="CASCADE")
        applied_on = DateField(null=True)
        talked_on = DateField(null=True)
        activist_on = DateField(null=True, index=True)
        contacts_on = DateField(null=True)
        contact_1 = ForeignKeyField(Member, null=True, backref="+", on_delete="SET NULL")
        contact_2 = ForeignKeyField(Member, null=True, backref="+", on_delete="SET NULL")
        candidate_on = DateField(null=True)
        political_review_on = DateField(null=True)
        training_on = DateField(null=True)
        admitted_on = DateField(null=True)
        extended_on = DateField(null=True)
        extension_months = IntegerField(null=True)
        extension_reason = TextField(default="")
        full_on = DateField(null=True)
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "development_record"

    class DevelopmentReview(Model):
        record = ForeignKeyField(DevelopmentRecord, backref="+", on_delete="CASCADE")
        on = DateField()
        note = TextField(default="")
        created_by = ForeignKeyField(Member, null=True, backref="+", on_delete="SET NULL")
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "development_review"
            indexes = ((("record", "on"), True),)

    db.create_tables([DevelopmentRecord, DevelopmentReview])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("development_review"))
    migrator.migrate(migrator.drop_table("development_record"))
