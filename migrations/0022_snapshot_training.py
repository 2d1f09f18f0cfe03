"""Store each branch's 学时 in its snapshot: the year they are for, the party members counted,
their minutes together and how many are below the year's bar. Snapshots from before hold year
0, which the readers take as stale (computed again on the next read)."""

from peewee import IntegerField

COLUMNS = ("training_year", "training_members", "training_minutes", "training_below")


def up(migrator, db):
    add = migrator.add_column
    migrator.migrate(*(add("branch_snapshot", name, IntegerField(default=0)) for name in COLUMNS))


def down(migrator, db):
    migrator.migrate(*(migrator.drop_column("branch_snapshot", name) for name in COLUMNS))
