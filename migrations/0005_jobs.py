"""Add the job run log (one row per job and tick)."""

from peewee import BooleanField, CharField, Model, TextField

from models.base import UTCDateTimeField


def up(migrator, db):
    class JobRun(Model):
        job_id = CharField(max_length=64)
        tick = CharField(max_length=64)
        holder = CharField(max_length=128)
        started_at = UTCDateTimeField()
        finished_at = UTCDateTimeField(null=True)
        ok = BooleanField(null=True)
        detail = TextField(default="")

        class Meta:
            database = db
            table_name = "job_run"
            indexes = ((("job_id", "tick"), True),)

    db.create_tables([JobRun])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("job_run"))
