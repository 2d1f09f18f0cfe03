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

from peewee import CharField, ForeignKeyField, IntegerField, TextField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.dues import DuesPayment
from models.org import Member

ORDER_STATES: dict[str, str] = {
    "created": "待支付",
    "paid": "已支付",
    "closed": "已关闭",
    "refunded": "已退款",
}


class PayOrder(BaseModel):
    out_trade_no = CharField(max_length=32, unique=True)
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
