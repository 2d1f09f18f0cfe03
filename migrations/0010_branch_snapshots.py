"""Add branch snapshots: each branch's headline figures as last computed, for the committee."""

from peewee import DateField, ForeignKeyField, IntegerField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class Committee(Model):
        class Meta:
            database = db
            table_name = "committee"

    class Branch(Model):
        class Meta:
            database = db
            table_name = "branch"

    class BranchSnapshot(Model):
        branch = ForeignKeyField(Branch, unique=True, on_delete="CASCADE")
        committee = ForeignKeyField(Committee, index=True, on_delete="CASCADE")
        computed_at = UTCDateTimeField()
        as_of = DateField()
        month = DateField()
        study_members = IntegerField(default=0)
        study_participants = IntegerField(default=0)
        study_checkins = IntegerField(default=0)
        meetings_required = IntegerField(default=0)
        meetings_satisfied = IntegerField(default=0)
        meetings_held = IntegerField(default=0)
        meetings_due = IntegerField(default=0)
        meetings_overdue = IntegerField(default=0)
        dues_expected_fen = IntegerField(null=True)
        dues_collected_fen = IntegerField(null=True)
        alert_count = IntegerField(default=0)
        last_active_at = UTCDateTimeField(null=True)

        class Meta:
            database = db
            table_name = "branch_snapshot"

    db.create_tables([BranchSnapshot])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("branch_snapshot"))
