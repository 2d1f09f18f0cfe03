"""Add WeChat Pay orders for dues paid in the mini-program."""

from peewee import CharField, ForeignKeyField, IntegerField, Model, TextField

from models.base import UTCDateTimeField


def up(migrator, db):
    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class DuesPayment(Model):
        class Meta:
            database = db
            table_name = "dues_payment"

    class PayOrder(Model):
        out_trade_no = CharField(max_length=32, unique=True)
        member = ForeignKeyField(Member, on_delete="RESTRICT")
        months = TextField()
        amount_fen = IntegerField()
        openid = CharField(max_length=64)
        state = CharField(max_length=10, default="created", index=True)
        open_member = IntegerField(null=True, unique=True)
        prepay_id = CharField(max_length=64, default="")
        transaction_id = CharField(max_length=32, null=True, unique=True)
        payment = ForeignKeyField(DuesPayment, null=True, unique=True, on_delete="RESTRICT")
        created_at = UTCDateTimeField(index=True)
        paid_at = UTCDateTimeField(null=True)
        closed_at = UTCDateTimeField(null=True)
        queried_at = UTCDateTimeField(null=True)
        problem = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "pay_order"

    db.create_tables([PayOrder])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("pay_order"))
