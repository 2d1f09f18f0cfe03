"""Add dues: categories and bases, hardship relief, member reports, payments and paid months."""

from peewee import BooleanField, CharField, DateField, ForeignKeyField, IntegerField, Model

from models.base import UTCDateTimeField

# Frozen copies of the models as of this migration; Python-side defaults are not schema.


def up(migrator, db):
    class Member(Model):
        class Meta:
            database = db
            table_name = "member"

    class DuesAssessment(Model):
        member = ForeignKeyField(Member, on_delete="RESTRICT", backref="+")
        from_month = DateField()
        category = CharField(max_length=12)
        base_fen = IntegerField(null=True)
        fixed_fen = IntegerField(null=True)
        approved_by = CharField(max_length=100, default="")
        note = CharField(max_length=200, default="")
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "dues_assessment"
            indexes = ((("member", "from_month"), False),)

    db.create_tables([DuesAssessment])

    class DuesReport(Model):
        member = ForeignKeyField(Member, on_delete="RESTRICT", backref="+")
        amount_fen = IntegerField()
        from_month = DateField(null=True)
        until_month = DateField(null=True)
        note = CharField(max_length=200, default="")
        reported_at = UTCDateTimeField()
        status = CharField(max_length=10, default="pending")
        undecided = BooleanField(null=True, default=True)
        decided_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        decided_at = UTCDateTimeField(null=True)
        decision_note = CharField(max_length=200, default="")

        class Meta:
            database = db
            table_name = "dues_report"
            indexes = ((("member", "undecided"), True),)

    db.create_tables([DuesReport])

    class DuesPayment(Model):
        member = ForeignKeyField(Member, on_delete="RESTRICT", backref="+")
        kind = CharField(max_length=10)
        amount_fen = IntegerField()
        source = CharField(max_length=10)
        report = ForeignKeyField(DuesReport, unique=True, null=True, on_delete="RESTRICT")
        reverses = ForeignKeyField(
            "self", unique=True, null=True, on_delete="RESTRICT", backref="+"
        )
        note = CharField(max_length=200, default="")
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_at = UTCDateTimeField(index=True)

        class Meta:
            database = db
            table_name = "dues_payment"

    db.create_tables([DuesPayment])

    class DuesMonth(Model):
        payment = ForeignKeyField(DuesPayment, on_delete="RESTRICT")
        member = ForeignKeyField(Member, on_delete="RESTRICT", backref="+")
        month = DateField()
        amount_fen = IntegerField()
        seq = IntegerField(default=0)

        class Meta:
            database = db
            table_name = "dues_month"
            indexes = ((("member", "month", "seq"), True),)

    db.create_tables([DuesMonth])

    class DuesRelief(Model):
        member = ForeignKeyField(Member, on_delete="RESTRICT", backref="+")
        kind = CharField(max_length=8)
        amount_fen = IntegerField(null=True)
        from_month = DateField()
        until_month = DateField()
        approved_by = CharField(max_length=100, default="")
        reason = CharField(max_length=200, default="")
        recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
        recorded_at = UTCDateTimeField()

        class Meta:
            database = db
            table_name = "dues_relief"
            indexes = ((("member", "from_month"), False),)

    db.create_tables([DuesRelief])


def down(migrator, db):
    migrator.migrate(migrator.drop_table("dues_relief"))
    migrator.migrate(migrator.drop_table("dues_month"))
    migrator.migrate(migrator.drop_table("dues_payment"))
    migrator.migrate(migrator.drop_table("dues_report"))
    migrator.migrate(migrator.drop_table("dues_assessment"))
