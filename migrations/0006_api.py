"""Add mini-program API sessions (revocable login tokens)."""

from peewee import CharField, ForeignKeyField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class ApiSession(Model):
        openid = CharField(max_length=64, index=True)
        member = ForeignKeyField(Member, null=True, on_delete="CASCADE")
        issued_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        revoked_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "api_session"

    db.create_tables([ApiSession])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("api_session"))
