"""Shapes of the WeChat Pay routes (/dues/pay, /dues/payments/{id}/refund)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import Answer, Fen, Request
from api.shapes.dues import Amount, AmountText, DuesMonthAmount, Months, Reason
from models.pay import ORDER_STATES, REFUND_STATES

OrderState = Literal[tuple(ORDER_STATES)]  # type: ignore[valid-type]
RefundState = Literal[tuple(REFUND_STATES)]  # type: ignore[valid-type]


class DuesPayRequest(Request):
    months: Months | None = Constraint(
        default=None, description="The months to pay; omit for every month owed through now."
    )


class RequestPayment(Answer):
    """The parameters of wx.requestPayment, signed by the server."""

    appId: str  # noqa: N815 - wx.requestPayment's names
    timeStamp: str  # noqa: N815
    nonceStr: str  # noqa: N815
    package: str = Constraint(description='"prepay_id=..."')
    signType: Literal["RSA"]  # noqa: N815
    paySign: str  # noqa: N815


class PayOrder(Answer):
    out_trade_no: str
    state: OrderState
    state_label: str
    amount_fen: Fen
    amount_text: AmountText
    months: list[DuesMonthAmount]
    created_at: str


class DuesPayCreated(Answer):
    order: PayOrder
    payment: RequestPayment
    reused: bool = Constraint(description="True: the open order for the same months, again.")


class DuesRefundRequest(Request):
    reason: Reason = Constraint(description="Why (shown to the payer by WeChat Pay).")
    amount_fen: Amount | None = Constraint(
        default=None,
        description="Omit for the whole order; only the whole order is refunded, since its "
        "ledger entry is reversed whole.",
    )


class PayRefund(Answer):
    out_refund_no: str
    state: RefundState
    state_label: str
    amount_fen: Fen
    amount_text: AmountText
    reason: str
    created_at: str
    succeeded_at: str | None
    reversal_id: int | None = Constraint(description="The ledger's reversal entry, once done.")


class DuesRefundAsked(Answer):
    refund: PayRefund
    order: PayOrder
