"""Add members' one-time download links of their own data (我的数据)."""

from peewee import CharField, ForeignKeyField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class ExportLink(Model):
        token_hash = CharField(max_length=64, unique=True)
        member = ForeignKeyField(Member, backref="+", on_delete="CASCADE")
        created_at = UTCDateTimeField()
        expires_at = UTCDateTimeField()
        used_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "export_link"

    db.create_tables([ExportLink])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("export_link"))
