"""Shapes of the WeChat Pay routes (/dues/pay)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import Answer, Fen, Request
from api.shapes.dues import AmountText, DuesMonthAmount, Months
from models.pay import ORDER_STATES

OrderState = Literal[tuple(ORDER_STATES)]  # type: ignore[valid-type]


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
