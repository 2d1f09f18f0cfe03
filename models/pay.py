"""WeChat Pay orders for dues: one row per order, created → paid | closed | refunded.

The amount is integer fen, computed by the server from the member's dues; ``months`` is the plan
the order pays, each month with its amount ("2026-06:12000,2026-07:12000"), booked as it is.
``open_member`` holds the member's id while the order is open and NULL after: its unique index
allows one open order per member, so two requests at once cannot both create one.
``transaction_id`` and ``payment`` are unique: a payment is booked once, however many
notifications arrive.
"""

from __future__ import annotations

from datetime import date

from peewee import CharField, DateField, ForeignKeyField, IntegerField, TextField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.dues import DuesPayment
from models.org import Branch, Member

ORDER_STATES: dict[str, str] = {
    "created": "待支付",
    "paid": "已支付",
    "closed": "已关闭",
    "refunded": "已退款",
}


class PayOrder(BaseModel):
    out_trade_no = CharField(max_length=32, unique=True)
    # The merchant the order was made with ("": [pay]'s default merchant, orders from before).
    mchid = CharField(max_length=32, default="")
    member = ForeignKeyField(Member, backref="pay_orders", on_delete="RESTRICT")
    months = TextField()  # the plan: "2026-06:12000,2026-07:12000" (month:fen)
    amount_fen = IntegerField()
    openid = CharField(max_length=64)
    state = CharField(max_length=10, default="created", index=True)
    open_member = IntegerField(null=True, unique=True)
    prepay_id = CharField(max_length=64, default="")
    transaction_id = CharField(max_length=32, null=True, unique=True)
    payment = ForeignKeyField(DuesPayment, null=True, unique=True, on_delete="RESTRICT")
    created_at = UTCDateTimeField(default=utcnow, index=True)
    paid_at = UTCDateTimeField(null=True)
    closed_at = UTCDateTimeField(null=True)
    queried_at = UTCDateTimeField(null=True)
    problem = CharField(max_length=200, default="")  # the last refused notification, why
    billed_on = DateField(null=True)  # the trade bill that listed its payment (reconciliation)

    @property
    def state_label(self) -> str:
        return ORDER_STATES.get(self.state, self.state)

    @property
    def plan(self) -> list[tuple[date, int]]:
        """The months this order pays, each with its amount in fen."""
        out = []
        for part in self.months.split(","):
            month, _, fen = part.partition(":")
            out.append((date.fromisoformat(month + "-01"), int(fen)))
        return out


def plan_text(plan: list[tuple[date, int]]) -> str:
    """PayOrder.months of a plan."""
    return ",".join(f"{m.year:04d}-{m.month:02d}:{fen}" for m, fen in plan)


REFUND_STATES: dict[str, str] = {
    "processing": "退款处理中",
    "success": "已退款",
    "failed": "退款未成功",
}


class PayRefund(BaseModel):
    """A refund of a paid order, asked of WeChat Pay by a collector with a reason.

    ``active_order`` holds the order's id while the refund is processing or done and NULL once
    it failed: its unique index allows one live refund per order, so two collectors at once
    cannot both refund it. ``reversal`` is the ledger's reversal entry, booked once when WeChat
    Pay reports success (notification or query job).
    """

    out_refund_no = CharField(max_length=64, unique=True)
    order = ForeignKeyField(PayOrder, backref="refunds", on_delete="RESTRICT")
    active_order = IntegerField(null=True, unique=True)
    amount_fen = IntegerField()
    reason = CharField(max_length=80)
    requested_by = ForeignKeyField(Member, null=True, on_delete="SET NULL")
    state = CharField(max_length=10, default="processing", index=True)
    refund_id = CharField(max_length=64, default="")
    reversal = ForeignKeyField(DuesPayment, null=True, unique=True, on_delete="RESTRICT")
    created_at = UTCDateTimeField(default=utcnow, index=True)
    succeeded_at = UTCDateTimeField(null=True)
    queried_at = UTCDateTimeField(null=True)
    billed_on = DateField(null=True)  # the trade bill that listed it (reconciliation)
    problem = CharField(max_length=200, default="")

    @property
    def state_label(self) -> str:
        return REFUND_STATES.get(self.state, self.state)


DIFFERENCE_KINDS: dict[str, str] = {
    "unbooked": "已到账未入账",
    "unpaid": "已入账未到账",
    "amount": "金额不符",
    "refund": "退款未对上",
}


class PayDifference(BaseModel):
    """A difference between WeChat Pay's trade bill and the ledger, found by the daily
    reconciliation; one row per (kind, order or refund number), open until it matches later
    (or a collector settles it), so the digest does not repeat a settled one."""

    kind = CharField(max_length=10)
    ref = CharField(max_length=64)  # out_trade_no, or out_refund_no for a refund
    branch = ForeignKeyField(Branch, null=True, on_delete="CASCADE")
    day = DateField()  # the bill's day it was found in
    detail = CharField(max_length=300)
    bill_fen = IntegerField(null=True)
    ledger_fen = IntegerField(null=True)
    found_at = UTCDateTimeField(default=utcnow)
    resolved_at = UTCDateTimeField(null=True, index=True)
    resolution = CharField(max_length=200, default="")
    resolved_by = ForeignKeyField(Member, null=True, on_delete="SET NULL")

    class Meta:
        indexes = ((("kind", "ref"), True),)

    @property
    def kind_label(self) -> str:
        return DIFFERENCE_KINDS.get(self.kind, self.kind)
