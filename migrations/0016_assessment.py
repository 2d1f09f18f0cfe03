"""Add the branch assessment's stored monthly figures (one row per branch, month, criterion)."""

from peewee import BigIntegerField, CharField, DateField, ForeignKeyField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class Branch(Model):
        class Meta:
            database = db
            table_name = "branch"

    class AssessmentFigure(Model):
        branch = ForeignKeyField(Branch, on_delete="CASCADE")
        month = DateField(index=True)
        criterion = CharField(max_length=20)
        done = BigIntegerField(default=0)
        due = BigIntegerField(default=0)
        text = CharField(max_length=120)
        computed_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "assessment_figure"
            indexes = ((("branch", "month", "criterion"), True),)

    db.create_tables([AssessmentFigure])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("assessment_figure"))
