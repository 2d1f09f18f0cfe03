"""Add WeChat Pay refunds, the trade bill's differences, and the bill day of a paid order."""

from peewee import CharField, DateField, ForeignKeyField, IntegerField, Model

from models.base import UTCDateTimeField


def up(migrator, db):
    class Branch(Model):
        class Meta:
            database = db
            table_name = "branch"

    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class DuesPayment(Model):
        class Meta:
            database = db
            table_name = "dues_payment"

    class PayOrder(Model):
        class Meta:
            database = db
            table_name = "pay_order"

    class PayRefund(Model):
        out_refund_no = CharField(max_length=64, unique=True)
        order = ForeignKeyField(PayOrder, on_delete="RESTRICT")
        active_order = IntegerField(null=True, unique=True)
        amount_fen = IntegerField()
        reason = CharField(max_length=80)
        requested_by = ForeignKeyField(Member, null=True, on_delete="SET NULL")
        state = CharField(max_length=10, default="processing", index=True)
        refund_id = CharField(max_length=64, default="")
        reversal = ForeignKeyField(DuesPayment, null=True, unique=True, on_delete="RESTRICT")
        created_at = UTCDateTimeField(index=True)
        succeeded_at = UTCDateTimeField(null=True)
        queried_at = UTCDateTimeField(null=True)
        billed_on = DateField(null=True)
        problem = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "pay_refund"

    class PayDifference(Model):
        kind = CharField(max_length=10)
        ref = CharField(max_length=64)
        branch = ForeignKeyField(Branch, null=True, on_delete="CASCADE")
        day = DateField()
        detail = CharField(max_length=300)
        bill_fen = IntegerField(null=True)
        ledger_fen = IntegerField(null=True)
        found_at = UTCDateTimeField()
        resolved_at = UTCDateTimeField(null=True, index=True)
        resolution = CharField(max_length=200, default="")
        resolved_by = ForeignKeyField(Member, null=True, on_delete="SET NULL")

        class Meta:
            database = db
            table_name = "pay_difference"
            indexes = ((("kind", "ref"), True),)

    db.create_tables([PayRefund, PayDifference])
    migrator.migrate(migrator.add_column("pay_order", "billed_on", DateField(null=True)))


def down(migrator, db):
    migrator.migrate(migrator.drop_column("pay_order", "billed_on"))
    migrator.migrate(migrator.drop_table("pay_difference"))
    migrator.migrate(migrator.drop_table("pay_refund"))
