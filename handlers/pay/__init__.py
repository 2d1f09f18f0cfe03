"""Dues paid online with WeChat Pay (API v3): orders, notifications, the order jobs.

- ``orders``: ``request_payment`` — the order for the months named (or every month owed), its
  amount computed from the member's dues, the prepay and the signed wx.requestPayment params;
- ``notify``: ``receive_notification`` — the signed, encrypted notification, booked once;
- ``booking``: the one path into the ledger (notification and query job alike);
- ``jobs``: query orders whose notification has not come, close unpaid ones;
- ``merchant``: whether pay is configured, and the merchant's API client.
"""

from handlers.pay.booking import Booked, Mismatch, book_transaction
from handlers.pay.jobs import close_stale_orders, query_open_orders
from handlers.pay.merchant import PayNotConfigured, PayUnavailable, pay_enabled
from handlers.pay.notify import NotificationRefused, receive_notification
from handlers.pay.orders import PayRequest, request_payment

__all__ = [
    "Booked",
    "Mismatch",
    "NotificationRefused",
    "PayNotConfigured",
    "PayRequest",
    "PayUnavailable",
    "book_transaction",
    "close_stale_orders",
    "pay_enabled",
    "query_open_orders",
    "receive_notification",
    "request_payment",
]
