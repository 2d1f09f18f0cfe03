"""Add push channels and the outbox: branch channels, member contacts, credits, messages."""

from peewee import BooleanField, CharField, ForeignKeyField, IntegerField, Model, TextField

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

    class BranchChannel(Model):
        branch = ForeignKeyField(Branch, unique=True, on_delete="CASCADE")
        kind = CharField(max_length=16)
        target = CharField(max_length=200, default="")
        mention = BooleanField(default=True)
        nudge_enabled = BooleanField(default=False)
        volunteer_enabled = BooleanField(default=False)
        updated_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "branch_channel"

    db.create_tables([BranchChannel])

    class MemberContact(Model):
        member = ForeignKeyField(Member, unique=True, on_delete="CASCADE")
        wecom_userid = CharField(null=True, max_length=64)
        updated_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "member_contact"

    db.create_tables([MemberContact])

    class OutboxMessage(Model):
        kind = CharField(max_length=40)
        target_type = CharField(max_length=8)
        target_id = IntegerField()
        period = CharField(max_length=64)
        branch = ForeignKeyField(Branch, on_delete="CASCADE")
        channel = CharField(max_length=16, default="")
        payload = TextField()
        status = CharField(max_length=8, default="pending")
        attempts = IntegerField(default=0)
        parts_sent = IntegerField(default=0)
        credit_spent = BooleanField(default=False)
        next_attempt_at = UTCDateTimeField()
        claimed_at = UTCDateTimeField(null=True)
        last_error = CharField(max_length=300, default="")
        created_at = UTCDateTimeField()
        sent_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "outbox_message"
            indexes = (
                (("kind", "target_type", "target_id", "period"), True),
                (("status", "next_attempt_at"), False),
            )

    db.create_tables([OutboxMessage])

    class SubscribeCredit(Model):
        openid = CharField(max_length=64)
        template_id = CharField(max_length=64)
        credits = IntegerField(default=0)
        updated_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "subscribe_credit"
            indexes = ((("openid", "template_id"), True),)

    db.create_tables([SubscribeCredit])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("subscribe_credit"))
    migrator.migrate(migrator.drop_table("outbox_message"))
    migrator.migrate(migrator.drop_table("member_contact"))
    migrator.migrate(migrator.drop_table("branch_channel"))
