"""Create the foundation tables: organizations, members, WeChat bindings, study."""

from peewee import (
    CharField,
    DateField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

from models.base import UTCDateTimeField

# Frozen copies of the models as of this migration. Defaults set in Python (timestamps)
# are the application's business and are not part of the schema.


def up(migrator, db):
    class Committee(Model):
        name = CharField(unique=True, max_length=100)
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "committee"

    db.create_tables([Committee])

    class Branch(Model):
        committee = ForeignKeyField(Committee, on_delete="RESTRICT")
        name = CharField(max_length=100)
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "branch"
            indexes = ((("committee", "name"), True),)

    db.create_tables([Branch])

    class PartyGroup(Model):
        branch = ForeignKeyField(Branch, on_delete="RESTRICT")
        name = CharField(max_length=100)

        class Meta:
            database = db
            table_name = "party_group"
            indexes = ((("branch", "name"), True),)

    db.create_tables([PartyGroup])

    class Member(Model):
        name = CharField(max_length=50)
        phone = CharField(unique=True, max_length=20)
        branch = ForeignKeyField(Branch, on_delete="RESTRICT")
        party_group = ForeignKeyField(PartyGroup, null=True, on_delete="SET NULL")
        status = CharField(index=True, max_length=20, default="full")
        roles = CharField(max_length=200, default="")
        joined_on = DateField(null=True)
        full_on = DateField(null=True)
        last_active_at = UTCDateTimeField(null=True)
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField()
        version = IntegerField(default=1)

        class Meta:
            database = db
            table_name = "member"

    db.create_tables([Member])

    class BindCode(Model):
        code_hash = CharField(unique=True, max_length=64)
        member = ForeignKeyField(Member, on_delete="CASCADE")
        created_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        used_at = UTCDateTimeField(null=True)
        used_by = CharField(null=True, max_length=64)

        class Meta:
            database = db
            table_name = "bind_code"

    db.create_tables([BindCode])

    class InboundMessage(Model):
        dedupe_key = CharField(unique=True, max_length=128)
        openid = CharField(index=True, max_length=64)
        reply = TextField(null=True)
        created_at = UTCDateTimeField(index=True)

        class Meta:
            database = db
            table_name = "inbound_message"

    db.create_tables([InboundMessage])

    class RateEvent(Model):
        bucket = CharField(max_length=100)
        at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "rate_event"
            indexes = ((("bucket", "at"), False),)

    db.create_tables([RateEvent])

    class StudyTopic(Model):
        day = DateField(index=True)
        title = CharField(max_length=200)
        content = TextField(default="")
        url = CharField(max_length=500, default="")
        committee = ForeignKeyField(Committee, null=True, on_delete="CASCADE")
        branch = ForeignKeyField(Branch, null=True, on_delete="CASCADE")
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "study_topic"

    db.create_tables([StudyTopic])

    class StudyCheckin(Model):
        member = ForeignKeyField(Member, on_delete="CASCADE")
        day = DateField()
        topic = ForeignKeyField(StudyTopic, null=True, on_delete="SET NULL")
        topic_key = IntegerField(default=0)
        reflection = TextField(default="")
        source = CharField(max_length=8, default="bot")
        created_at = UTCDateTimeField()
        updated_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "study_checkin"
            indexes = ((("member", "day", "topic_key"), True),)

    db.create_tables([StudyCheckin])

    class WechatBinding(Model):
        openid = CharField(unique=True, max_length=64)
        app = CharField(max_length=8, default="oa")
        unionid = CharField(index=True, null=True, max_length=64)
        member = ForeignKeyField(Member, on_delete="CASCADE")
        created_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "wechat_binding"
            indexes = ((("member", "app"), True),)

    db.create_tables([WechatBinding])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("wechat_binding"))
    migrator.migrate(migrator.drop_table("study_checkin"))
    migrator.migrate(migrator.drop_table("study_topic"))
    migrator.migrate(migrator.drop_table("rate_event"))
    migrator.migrate(migrator.drop_table("inbound_message"))
    migrator.migrate(migrator.drop_table("bind_code"))
    migrator.migrate(migrator.drop_table("member"))
    migrator.migrate(migrator.drop_table("party_group"))
    migrator.migrate(migrator.drop_table("branch"))
    migrator.migrate(migrator.drop_table("committee"))
