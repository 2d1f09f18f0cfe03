"""Add the read log (查阅记录): who opened a member's detail or downloaded a file naming
members, and which members each read named. Ids, not foreign keys: deleting a member or a
branch never touches the log."""

from peewee import BooleanField, CharField, IntegerField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class ReadEntry(Model):
        at = UTCDateTimeField(index=True)
        actor_id = IntegerField(null=True, index=True)
        actor_name = CharField(max_length=50)
        door = CharField(max_length=8)
        kind = CharField(max_length=20)
        branch_id = IntegerField(null=True, index=True)
        committee_id = IntegerField(null=True, index=True)
        subject = CharField(max_length=100)
        members = IntegerField(default=0)
        full_phones = BooleanField(default=False)

        class Meta:
            database = db
            table_name = "read_entry"

    class ReadMember(Model):
        entry_id = IntegerField(index=True)
        member_id = IntegerField()

        class Meta:
            database = db
            table_name = "read_member"
            indexes = ((("member_id", "entry_id"), True),)

    db.create_tables([ReadEntry, ReadMember])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("read_member"), migrator.drop_table("read_entry"))
