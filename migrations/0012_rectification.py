"""Add rectification lists: items (per-branch numbers, owner, deadline, status) and notes."""

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

    class RectificationItem(Model):
        branch = ForeignKeyField(Branch, on_delete="RESTRICT")
        number = IntegerField()
        kind = CharField(max_length=12)
        source = CharField(max_length=16)
        problem = TextField()
        measure = TextField(default="")
        owner = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        owner_role = CharField(max_length=24, default="")
        deadline = DateField(index=True)
        status = CharField(max_length=12, default="open", index=True)
        raised_by = CharField(max_length=10, default="branch")
        done_at = UTCDateTimeField(null=True)
        done_on = DateField(null=True)
        verified_at = UTCDateTimeField(null=True)
        verified_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        created_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "rectification_item"
            indexes = ((("branch", "number"), True),)

    class RectificationNote(Model):
        item = ForeignKeyField(RectificationItem, on_delete="CASCADE")
        author = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        kind = CharField(max_length=12, default="progress")
        text = TextField()
        at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "rectification_note"

    db.create_tables([RectificationItem, RectificationNote])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("rectification_note"))
    migrator.migrate(migrator.drop_table("rectification_item"))
