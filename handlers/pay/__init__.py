"""Dues paid online with WeChat Pay (API v3): orders, notifications, the order jobs.

- ``orders``: ``request_payment`` — the order for the months named (or every month owed), its
  amount computed from the member's dues, the prepay and the signed wx.requestPayment params;
- ``notify``: ``receive_notification`` — the signed, encrypted notification, booked once;
- ``booking``: the one path into the ledger (notification and query job alike);
- ``refunds``: ``refund_payment``, ``refund_order`` — a collector's refund with a reason;
  ``book_refund`` — WeChat Pay's word that it went through, booked as a reversal once;
- ``jobs``: query orders and refunds whose notification has not come, close unpaid orders;
- ``merchant``: the merchants (the default and each committee's), whether a member pays
  online, and a merchant's API client;
- ``reconcile``: ``reconcile_day`` — the day's trade bill against the ledger, its differences
  kept until they match (or a collector settles them: ``settle_difference``);
- ``views``: a branch's orders and open differences for its collectors (the console).
"""

from handlers.pay.booking import Booked, Mismatch, book_transaction
from handlers.pay.jobs import close_stale_orders, query_open_orders, query_open_refunds
from handlers.pay.merchant import PayNotConfigured, PayUnavailable, pay_enabled, pays_online
from handlers.pay.notify import NotificationRefused, receive_notification
from handlers.pay.orders import PayRequest, request_payment
from handlers.pay.reconcile import Reconciled, reconcile_day, settle_difference
from handlers.pay.refunds import (
    Refunding,
    RefundRefused,
    book_refund,
    refund_order,
    refund_payment,
)
from handlers.pay.views import (
    BranchOrders,
    branch_orders,
    open_differences,
    order_in_branch,
    wxpay_orders,
)

__all__ = [
    "Reconciled",
    "open_differences",
    "reconcile_day",
    "settle_difference",
    "BranchOrders",
    "branch_orders",
    "order_in_branch",
    "wxpay_orders",
    "Booked",
    "Mismatch",
    "NotificationRefused",
    "PayNotConfigured",
    "PayRequest",
    "PayUnavailable",
    "book_transaction",
    "close_stale_orders",
    "pay_enabled",
    "pays_online",
    "query_open_orders",
    "query_open_refunds",
    "receive_notification",
    "RefundRefused",
    "Refunding",
    "book_refund",
    "refund_order",
    "refund_payment",
    "request_payment",
]
