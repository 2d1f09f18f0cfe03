"""Add member returns (转回): a member who had transferred out of the deployment (转出) comes
back. The departure row goes (so they can leave again one day); what it said is kept here,
with the day and the branch they came back to."""

from peewee import CharField, DateField, ForeignKeyField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class Branch(Model):
        class Meta:
            database = db
            table_name = "branch"

    class MemberReturn(Model):
        member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
        left_reason = CharField(max_length=16)
        left_on = DateField()
        left_branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
        phone_hash = CharField(max_length=64, index=True)
        returned_on = DateField()
        to_branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "member_return"
            indexes = ((("member", "returned_on"), False),)

    db.create_tables([MemberReturn])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("member_return"))
