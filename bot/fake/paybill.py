"""The fake WeChat Pay's trade bill (交易账单, ALL): the day's payments and refunds as WeChat Pay
writes them — a CSV whose every field starts with a backtick, amounts in yuan, then the totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

BEIJING = timezone(timedelta(hours=8))
BILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,"
    "交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,"
    "充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,"
    "费率备注"
)
BILL_SUMMARY = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def _beijing(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC).astimezone(BEIJING)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def bill_text(
    orders: dict[str, Any], refunds: dict[str, Any], totals: dict[str, int], mchid: str, day: str
) -> str:
    """The ALL trade bill of a Beijing day: paid orders, then refunds, then the totals;
    ``totals`` alters what a line shows (out_trade_no → the fen the bill says instead)."""
    lines, paid, refunded = [BILL_HEADER], 0, 0
    for order in orders.values():
        if order.mchid != mchid or not order.transaction_id:
            continue
        if _beijing(order.paid_at).date().isoformat() != day:
            continue
        total = totals.get(order.out_trade_no, order.total)
        paid += total
        when = _beijing(order.paid_at).strftime("%Y-%m-%d %H:%M:%S")
        fields = [
            when, order.appid, mchid, "0", "", order.transaction_id, order.out_trade_no,
            order.openid, "JSAPI", "SUCCESS", "OTHERS", "CNY", _yuan(total), "0.00", "0",
            "0", "0.00", "0.00", "", "", order.description, "", "0.00000", "0.60%",
            _yuan(total), "0.00", "",
        ]  # fmt: skip
        lines.append(",".join("`" + f for f in fields))
    for refund in refunds.values():
        if refund.status != "SUCCESS" or refund.success_time[:10] != day:
            continue
        order = orders[refund.out_trade_no]
        refunded += refund.refund
        fields = [
            refund.success_time[:19].replace("T", " "), order.appid, mchid, "0", "",
            order.transaction_id, order.out_trade_no, order.openid, "JSAPI", "REFUND",
            "OTHERS", "CNY", "0.00", "0.00", refund.refund_id, refund.out_refund_no,
            _yuan(refund.refund), "0.00", "ORIGINAL", "SUCCESS", order.description, "",
            "0.00000", "0.60%", _yuan(order.total), _yuan(refund.refund), "",
        ]  # fmt: skip
        lines.append(",".join("`" + f for f in fields))
    count = len(lines) - 1
    lines += [BILL_SUMMARY]
    summary = [str(count), _yuan(paid), _yuan(refunded), "0.00", "0.00000", _yuan(paid)]
    lines.append(",".join("`" + f for f in [*summary, _yuan(refunded)]))
    return "\r\n".join(lines) + "\r\n"
