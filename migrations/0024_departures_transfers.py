"""Add members' departures (离开: 转出, 去世, 出党, 停止党籍) and their transfers between the
deployment's branches (转接组织关系)."""

from peewee import CharField, DateField, ForeignKeyField, Model

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

    class Departure(Model):
        member = ForeignKeyField(Member, unique=True, backref="+", on_delete="CASCADE")
        reason = CharField(max_length=16)
        left_on = DateField()
        branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
        phone_hash = CharField(max_length=64, index=True)
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "departure"

    class Transfer(Model):
        member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
        from_branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
        to_branch = ForeignKeyField(Branch, backref="+", on_delete="RESTRICT")
        moved_on = DateField()
        source = CharField(max_length=8, default="manual")
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "transfer"
            indexes = ((("member", "moved_on"), False),)

    db.create_tables([Departure, Transfer])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("transfer"))
    migrator.migrate(migrator.drop_table("departure"))
