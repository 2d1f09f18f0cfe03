"""Add the web console's logins (one-time links, QR scans) and browser sessions."""

from peewee import CharField, ForeignKeyField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class ConsoleLogin(Model):
        kind = CharField(max_length=8)
        token_hash = CharField(max_length=64, unique=True)
        scene = CharField(max_length=64, null=True, unique=True)
        member = ForeignKeyField(Member, null=True, on_delete="CASCADE")
        created_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        approved_at = UTCDateTimeField(null=True)
        used_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "console_login"

    class ConsoleSession(Model):
        sid_hash = CharField(max_length=64, unique=True)
        member = ForeignKeyField(Member, on_delete="CASCADE")
        created_at = UTCDateTimeField()
        last_seen_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        ended_at = UTCDateTimeField(null=True)
        end_reason = CharField(max_length=16, default="")

        class Meta:
            database = db
            table_name = "console_session"

    db.create_tables([ConsoleLogin, ConsoleSession])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("console_session"), migrator.drop_table("console_login"))
