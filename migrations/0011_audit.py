"""Add the audit log: who changed what, when, through which door; append-only in the database.

Triggers refuse UPDATE and DELETE of a row (TRUNCATE, used only to empty a test database, is
not a row change and passes on PostgreSQL).
"""

from peewee import CharField, IntegerField, Model, PostgresqlDatabase, TextField

from models.base import UTCDateTimeField

REFUSAL = "audit entries cannot be changed"

SQLITE_TRIGGERS = [
    f"CREATE TRIGGER audit_entry_no_{verb.lower()} BEFORE {verb} ON audit_entry "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END;"
    for verb in ("UPDATE", "DELETE")
]
POSTGRES_TRIGGERS = [
    "CREATE FUNCTION audit_entry_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{REFUSAL}'; END; $$",
    "CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_refuse_change()",
]


def up(migrator, db):
    class AuditEntry(Model):
        at = UTCDateTimeField(index=True)
        actor_id = IntegerField(null=True)
        actor_name = CharField(max_length=50)
        door = CharField(max_length=8)
        action = CharField(max_length=40)
        branch_id = IntegerField(null=True, index=True)
        committee_id = IntegerField(null=True, index=True)
        target = CharField(max_length=60, default="")
        summary = CharField(max_length=200)
        before = TextField(default="")
        after = TextField(default="")

        class Meta:
            database = db
            table_name = "audit_entry"

    db.create_tables([AuditEntry])
    postgres = isinstance(db, PostgresqlDatabase)
    for sql in POSTGRES_TRIGGERS if postgres else SQLITE_TRIGGERS:
        db.execute_sql(sql)


def down(migrator, db):
    if isinstance(db, PostgresqlDatabase):
        db.execute_sql("DROP TABLE audit_entry")
        db.execute_sql("DROP FUNCTION audit_entry_refuse_change()")
        return
    migrator.migrate(migrator.drop_table("audit_entry"))
