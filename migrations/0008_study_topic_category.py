"""Give each study topic a category (类别) from the study plan: 学党章党规, 学系列讲话 or 其他."""

from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("study_topic", "category", CharField(max_length=16, default="other"))
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("study_topic", "category"))
