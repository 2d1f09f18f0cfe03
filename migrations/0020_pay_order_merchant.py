"""Record which WeChat Pay merchant (mchid) each order was made with: committees may have
their own; an order from before keeps "" (the default merchant of [pay])."""

from peewee import CharField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("pay_order", "mchid", CharField(max_length=32, default=""))
    )


def down(migrator, db):
    migrator.migrate(migrator.drop_column("pay_order", "mchid"))
