"""Dues (党费): categories and bases, hardship relief, member reports, and the payment ledger.

Money is integer fen (分) in every column. A month is stored as the date of its first day.
The ledger is append-only: a payment is never edited; a correction is a reversal entry that
points at the payment it cancels, after which the months it covered can be paid again.
"""

from __future__ import annotations

from peewee import BooleanField, CharField, DateField, ForeignKeyField, IntegerField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Member

# Dues categories (DOMAIN.md, the 2008 规定). The amounts and rates live in [dues] settings.
CATEGORIES: dict[str, str] = {
    "in_service": "在职",
    "retired": "离退休",
    "farmer": "农民",
    "student": "学生、下岗失业、领取救济或低保",
    "exempt": "免交",
}
# Categories whose amount is a rate on the after-tax monthly base.
BASED_CATEGORIES = ("in_service", "retired")

RELIEF_KINDS: dict[str, str] = {"reduce": "减交", "exempt": "免交", "cancel": "取消减免"}
PAYMENT_KINDS: dict[str, str] = {"dues": "党费", "voluntary": "自愿交纳", "reversal": "更正"}
PAYMENT_SOURCES: dict[str, str] = {
    "collector": "收缴员登记",
    "report": "党员报告、收缴员确认",
    "import": "批量导入",
    "cli": "管理员命令行",
    "wxpay": "微信支付",
}
REPORT_STATUSES: dict[str, str] = {
    "pending": "待确认",
    "confirmed": "已确认",
    "rejected": "已退回",
}


class DuesAssessment(BaseModel):
    """A member's category and base from a month on; for a month the latest row in effect wins."""

    member = ForeignKeyField(Member, backref="dues_assessments", on_delete="RESTRICT")
    from_month = DateField()  # first day of the month it takes effect
    category = CharField(max_length=12)
    base_fen = IntegerField(null=True)  # after-tax monthly salary or pension (in_service, retired)
    fixed_fen = IntegerField(null=True)  # the amount the branch set (farmer)
    approved_by = CharField(max_length=100, default="")  # who approved an exempt category
    note = CharField(max_length=200, default="")
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "from_month"), False),)

    @property
    def category_label(self) -> str:
        return CATEGORIES.get(self.category, self.category)


class DuesRelief(BaseModel):
    """A hardship reduction or exemption over a span of months, with who approved it.

    For each month the latest row (highest id) covering it decides; "cancel" ends earlier relief.
    """

    member = ForeignKeyField(Member, backref="dues_reliefs", on_delete="RESTRICT")
    kind = CharField(max_length=8)  # reduce | exempt | cancel
    amount_fen = IntegerField(null=True)  # the reduced monthly amount (reduce)
    from_month = DateField()
    until_month = DateField()  # inclusive
    approved_by = CharField(max_length=100, default="")
    reason = CharField(max_length=200, default="")
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("member", "from_month"), False),)


class DuesReport(BaseModel):
    """A member's own report of a payment (交党费), pending until a collector decides."""

    member = ForeignKeyField(Member, backref="dues_reports", on_delete="RESTRICT")
    amount_fen = IntegerField()
    from_month = DateField(null=True)  # the months the member named, if any
    until_month = DateField(null=True)
    note = CharField(max_length=200, default="")
    reported_at = UTCDateTimeField(default=utcnow)
    status = CharField(max_length=10, default="pending")  # pending | confirmed | rejected
    # True while pending, NULL once decided: the unique index allows one pending report each.
    undecided = BooleanField(null=True, default=True)
    decided_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    decided_at = UTCDateTimeField(null=True)
    decision_note = CharField(max_length=200, default="")

    class Meta:
        indexes = ((("member", "undecided"), True),)


class DuesPayment(BaseModel):
    """One ledger entry: dues for some months, a voluntary payment, or a reversal."""

    member = ForeignKeyField(Member, backref="dues_payments", on_delete="RESTRICT")
    kind = CharField(max_length=10)  # dues | voluntary | reversal
    amount_fen = IntegerField()  # negative for a reversal
    source = CharField(max_length=10)  # collector | report | import | cli | wxpay
    report = ForeignKeyField(DuesReport, null=True, unique=True, on_delete="RESTRICT")
    reverses = ForeignKeyField(
        "self", null=True, unique=True, on_delete="RESTRICT", backref="reversed_by"
    )
    note = CharField(max_length=200, default="")
    recorded_by = ForeignKeyField(Member, null=True, on_delete="SET NULL", backref="+")
    recorded_at = UTCDateTimeField(default=utcnow, index=True)

    @property
    def kind_label(self) -> str:
        return PAYMENT_KINDS.get(self.kind, self.kind)


class DuesMonth(BaseModel):
    """A month covered by a dues payment, at the amount due then.

    (member, month, seq) is unique: seq counts the earlier, reversed, payments of that month,
    so two collectors recording the same month at once cannot both succeed.
    """

    payment = ForeignKeyField(DuesPayment, backref="months", on_delete="RESTRICT")
    member = ForeignKeyField(Member, backref="+", on_delete="RESTRICT")
    month = DateField()
    amount_fen = IntegerField()
    seq = IntegerField(default=0)

    class Meta:
        indexes = ((("member", "month", "seq"), True),)
