"""The fake's WeChat Pay API v3: prepay, query, close, refund, the trade bill, notifications.

Requests must carry a valid ``Authorization`` (WECHATPAY2-SHA256-RSA2048, signed with the key of
a merchant registered by ``add_merchant``, within 5 minutes of the fake's clock); every answer
is signed with a platform key the fake generates (``platform_public_pem``, ``pay_serial``).
Errors answer as WeChat Pay does: an HTTP 4xx/5xx with ``{"code": ..., "message": ...}``.

A test (or ``simulate-pay``) plays the payer with ``pay``; ``notify`` then POSTs the signed,
encrypted notification to the order's notify_url and, when the answer is not success, queues
it for ``redeliver_due`` on WeChat's retry schedule. ``notification`` builds one (optionally
altered) for a test to send as it likes: duplicates, tampered bodies, stale timestamps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.fake import paysign
from bot.fake.paybill import _beijing, bill_text
from bot.fake.records import Response
from core import wxpay

logger = logging.getLogger("bot.fake")

# WeChat Pay's redelivery delays after the first attempt (24 h 4 min in all).
NOTIFY_RETRY_SECONDS = (15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800)
NOTIFY_RETRY_SECONDS += (10800, 21600, 21600)
REFUND_SUMMARIES = {"SUCCESS": "退款成功", "ABNORMAL": "退款异常", "CLOSED": "退款关闭"}
NOTIFY_TIMEOUT = 5.0  # WeChat Pay waits this long for our answer
AUTH_WINDOW = 300  # a request's timestamp may be this far from the fake's clock


@dataclass
class FakeMerchant:
    mchid: str
    appid: str
    serial: str
    public_key: rsa.RSAPublicKey
    apiv3_key: str


@dataclass
class FakeOrder:
    appid: str
    mchid: str
    out_trade_no: str
    description: str
    notify_url: str
    total: int
    currency: str
    openid: str
    prepay_id: str
    state: str = "NOTPAY"  # NOTPAY | SUCCESS | CLOSED | REFUND
    transaction_id: str = ""
    success_time: str = ""
    paid_at: float = 0.0


@dataclass
class FakeRefund:
    refund_id: str
    out_refund_no: str
    out_trade_no: str
    transaction_id: str
    refund: int
    total: int
    reason: str
    notify_url: str
    created_at: float
    status: str = "PROCESSING"  # PROCESSING | SUCCESS
    success_time: str = ""


@dataclass
class Delivery:
    """A notification WeChat Pay keeps sending until it is answered with success."""

    url: str
    headers: dict[str, str]
    body: bytes
    attempts: int = 0
    next_at: float = 0.0
    statuses: list[int] = field(default_factory=list)
    done: bool = False


class PayError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code)
        self.status, self.code, self.message = status, code, message


def _rfc3339(epoch: float) -> str:
    return _beijing(epoch).isoformat(timespec="seconds")


class PayEndpoints:
    """Mixed into FakeWeChat: its WeChat Pay v3 endpoints and the payer's side."""

    clock: Any
    _lock: Any
    calls: Any
    base_url: str

    def _init_pay(self) -> None:
        self.merchants: dict[str, FakeMerchant] = {}
        self.pay_orders: dict[str, FakeOrder] = {}
        self.pay_refunds: dict[str, FakeRefund] = {}
        self.deliveries: list[Delivery] = []
        self.pay_serial = "PUB_KEY_ID_" + secrets.token_hex(12).upper()
        self._platform_key: rsa.RSAPrivateKey | None = None
        self._trade_seq = 0
        # Bill lines to alter: out_trade_no → the total the bill shows instead.
        self.bill_totals: dict[str, int] = {}
        self._bill_files: dict[str, bytes] = {}

    # ----- set-up and inspection -------------------------------------------------------------

    @property
    def platform_key(self) -> rsa.RSAPrivateKey:
        with self._lock:
            if self._platform_key is None:
                self._platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._platform_key

    def platform_public_pem(self) -> bytes:
        """The WeChat Pay public key merchants verify answers and notifications with."""
        return wxpay.public_pem(self.platform_key)

    def add_merchant(
        self, mchid: str, appid: str, serial: str, public_key_pem: bytes, apiv3_key: str
    ) -> None:
        """Register a merchant: its API certificate's public key and serial, its APIv3 key."""
        merchant = FakeMerchant(
            mchid, appid, serial, paysign.load_public_key(public_key_pem), apiv3_key
        )
        with self._lock:
            self.merchants[mchid] = merchant

    def pay_order(self, out_trade_no: str) -> FakeOrder | None:
        with self._lock:
            return self.pay_orders.get(out_trade_no)

    # ----- the payer -------------------------------------------------------------------------

    def pay(self, out_trade_no: str, *, notify: bool = True) -> str:
        """Pay an open order as its payer would; return the transaction_id. With ``notify`` the
        notification goes out at once (see ``notify``)."""
        with self._lock:
            order = self.pay_orders.get(out_trade_no)
            if order is None or order.state != "NOTPAY":
                raise ValueError(f"order {out_trade_no} is not open")
            self._trade_seq += 1
            order.state = "SUCCESS"
            order.paid_at = self.clock.now()
            order.success_time = _rfc3339(order.paid_at)
            day = _beijing(order.paid_at).strftime("%Y%m%d")
            order.transaction_id = f"4200{day}{self._trade_seq:010d}{secrets.randbelow(10**4):04d}"
        if notify:
            self.notify(out_trade_no)
        return order.transaction_id

    def _fake_pay(self, query: dict[str, str], body: bytes) -> dict[str, Any]:
        """Pay an open order over HTTP (the demo's stand-in for the payer's wx.requestPayment);
        the notification goes out from another thread a moment later, as WeChat Pay's does."""
        try:
            transaction_id = self.pay(query.get("out_trade_no", ""), notify=False)
        except ValueError as exc:
            return {"errcode": 1, "errmsg": str(exc)}
        no = query["out_trade_no"]
        threading.Thread(target=self.notify, args=(no,), daemon=True).start()
        return {"errcode": 0, "errmsg": "ok", "transaction_id": transaction_id}

    def transaction(self, order: FakeOrder) -> dict[str, Any]:
        """The order as the query API and the notification's resource show it."""
        answer: dict[str, Any] = {
            "appid": order.appid,
            "mchid": order.mchid,
            "out_trade_no": order.out_trade_no,
            "trade_type": "JSAPI",
            "trade_state": order.state,
            "trade_state_desc": {
                "NOTPAY": "未支付",
                "SUCCESS": "支付成功",
                "CLOSED": "已关闭",
                "REFUND": "转入退款",
            }[order.state],
            "payer": {"openid": order.openid},
            "amount": {"total": order.total, "currency": order.currency},
        }
        if order.transaction_id:
            answer.update(
                transaction_id=order.transaction_id,
                success_time=order.success_time,
                bank_type="OTHERS",
                attach="",
            )
            answer["amount"].update(payer_total=order.total, payer_currency=order.currency)
        return answer

    def notification(
        self,
        out_trade_no: str,
        *,
        changes: dict[str, Any] | None = None,
        timestamp: float | None = None,
        for_mchid: str = "",
    ) -> tuple[dict[str, str], bytes]:
        """A signed, encrypted TRANSACTION.SUCCESS notification of a paid order (headers,
        body); ``changes`` alter the decrypted transaction (a forged or mismatched notice);
        ``for_mchid`` encrypts it for another merchant (one merchant's notice replayed to the
        other's order)."""
        with self._lock:
            order = self.pay_orders[out_trade_no]
            merchant = self.merchants[for_mchid or order.mchid]
            resource = self.transaction(order)
        resource.update(changes or {})
        return self._notice(
            merchant, "TRANSACTION.SUCCESS", "支付成功", "transaction", resource, timestamp
        )

    def refund_notification(self, out_refund_no: str) -> tuple[dict[str, str], bytes]:
        """A signed, encrypted REFUND.SUCCESS notification of a finished refund."""
        with self._lock:
            refund = self.pay_refunds[out_refund_no]
            order = self.pay_orders[refund.out_trade_no]
            merchant = self.merchants[order.mchid]
            resource = {
                "mchid": order.mchid,
                "out_trade_no": refund.out_trade_no,
                "transaction_id": refund.transaction_id,
                "out_refund_no": refund.out_refund_no,
                "refund_id": refund.refund_id,
                "refund_status": refund.status,
                "success_time": refund.success_time,
                "user_received_account": "支付用户零钱",
                "amount": {
                    "total": refund.total,
                    "refund": refund.refund,
                    "payer_total": refund.total,
                    "payer_refund": refund.refund,
                },
            }
        event, summary = f"REFUND.{refund.status}", REFUND_SUMMARIES.get(refund.status, "")
        return self._notice(merchant, event, summary, "refund", resource, None)

    def _notice(
        self,
        merchant: FakeMerchant,
        event: str,
        summary: str,
        original: str,
        resource: dict[str, Any],
        timestamp: float | None,
    ) -> tuple[dict[str, str], bytes]:
        moment = self.clock.now() if timestamp is None else timestamp
        nonce = secrets.token_urlsafe(9)[:12]
        associated = original
        plain = json.dumps(resource, ensure_ascii=False).encode("utf-8")
        body = {
            "id": secrets.token_hex(16),
            "create_time": _rfc3339(moment),
            "resource_type": "encrypt-resource",
            "event_type": event,
            "summary": summary,
            "resource": {
                "original_type": original,
                "algorithm": paysign.ALGORITHM,
                "ciphertext": paysign.aead_encrypt(merchant.apiv3_key, plain, nonce, associated),
                "associated_data": associated,
                "nonce": nonce,
            },
        }
        text = json.dumps(body, ensure_ascii=False)
        headers = paysign.signed_headers(
            self.platform_key, self.pay_serial, text, timestamp=str(int(moment))
        )
        headers["Content-Type"] = "application/json"
        return headers, text.encode("utf-8")

    @staticmethod
    def post_notification(url: str, headers: dict[str, str], body: bytes) -> requests.Response:
        """POST a notification as WeChat Pay does (5 s to answer)."""
        return requests.post(url, data=body, headers=headers, timeout=NOTIFY_TIMEOUT)

    def notify(self, out_trade_no: str) -> int:
        """Send a paid order's notification once now, queued for redelivery until answered
        with success; return the HTTP status (0: no answer)."""
        with self._lock:
            url = self.pay_orders[out_trade_no].notify_url
        headers, body = self.notification(out_trade_no)
        delivery = Delivery(url, headers, body)
        with self._lock:
            self.deliveries.append(delivery)
        return self._deliver(delivery)

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS") -> None:
        """The refund reaches the payer (SUCCESS), or fails (ABNORMAL, CLOSED); no notice."""
        with self._lock:
            refund = self.pay_refunds[out_refund_no]
            refund.status = status
            if status == "SUCCESS":
                refund.success_time = _rfc3339(self.clock.now())

    def notify_refund(self, out_refund_no: str, status: str = "SUCCESS") -> int:
        """Finish a refund and send its notification (queued like a payment's)."""
        self.finish_refund(out_refund_no, status)
        with self._lock:
            url = self.pay_refunds[out_refund_no].notify_url
        headers, body = self.refund_notification(out_refund_no)
        delivery = Delivery(url, headers, body)
        with self._lock:
            self.deliveries.append(delivery)
        return self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> int:
        try:
            status = self.post_notification(delivery.url, delivery.headers, delivery.body)
            code = status.status_code
        except requests.RequestException:
            code = 0
        with self._lock:
            delivery.statuses.append(code)
            delivery.attempts += 1
            if 200 <= code < 300:
                delivery.done = True
            elif delivery.attempts > len(NOTIFY_RETRY_SECONDS):
                delivery.done = True  # WeChat Pay gives up after the last retry
            else:
                delivery.next_at = self.clock.now() + NOTIFY_RETRY_SECONDS[delivery.attempts - 1]
        logger.info("fake WeChat Pay notification to %s -> %s", delivery.url, code)
        return code

    def redeliver_due(self) -> int:
        """Send again every unanswered notification whose retry time has come; how many."""
        with self._lock:
            now = self.clock.now()
            due = [d for d in self.deliveries if not d.done and d.next_at <= now]
        for delivery in due:
            self._deliver(delivery)
        return len(due)

    # ----- the HTTP side ---------------------------------------------------------------------

    def _pay_handle(
        self, method: str, raw_path: str, path: str, query: dict[str, str], body: bytes,
        headers: dict[str, str],
    ) -> Response:  # fmt: skip
        """Answer a /v3/ request: check its Authorization, route it, sign the answer."""
        try:
            merchant = self._pay_check_auth(method, raw_path, body, headers)
            status, answer = self._pay_route(method, path, query, body, merchant)
        except PayError as error:
            status, answer = error.status, {"code": error.code, "message": error.message}
        if isinstance(answer, bytes):  # the bill file: not signed, as WeChat Pay serves it
            return Response(status, answer, "text/plain; charset=utf-8")
        text = "" if answer is None else json.dumps(answer, ensure_ascii=False)
        signed = paysign.signed_headers(
            self.platform_key, self.pay_serial, text, timestamp=str(int(self.clock.now()))
        )
        signed["Request-ID"] = secrets.token_hex(16)
        return Response(status, text.encode("utf-8"), "application/json", signed)

    def _pay_check_auth(
        self, method: str, raw_path: str, body: bytes, headers: dict[str, str]
    ) -> FakeMerchant:
        header = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        parts = paysign.parse_authorization(header)
        if parts is None:
            raise PayError(401, "SIGN_ERROR", "Authorization 不合法")
        merchant = self.merchants.get(parts["mchid"])
        if merchant is None or parts["serial_no"] != merchant.serial:
            raise PayError(401, "SIGN_ERROR", "商户证书序列号有误")
        try:
            moment = int(parts["timestamp"])
        except ValueError:
            raise PayError(401, "SIGN_ERROR", "时间戳不合法") from None
        if abs(self.clock.now() - moment) > AUTH_WINDOW:
            raise PayError(401, "SIGN_ERROR", "请求时间与系统时间相差过大")
        message = paysign.request_message(
            method, raw_path, parts["timestamp"], parts["nonce_str"], body.decode("utf-8")
        )
        if not paysign.rsa_verify(merchant.public_key, message, parts["signature"]):
            raise PayError(401, "SIGN_ERROR", "签名错误")
        return merchant

    def _pay_route(
        self, method: str, path: str, query: dict[str, str], body: bytes, merchant: FakeMerchant
    ) -> tuple[int, Any]:
        prefix = "/v3/pay/transactions/out-trade-no/"
        if path == "/v3/pay/transactions/jsapi" and method == "POST":
            return 200, self._jsapi(_json(body), merchant)
        if path.startswith(prefix) and path.endswith("/close") and method == "POST":
            self._close(path[len(prefix) : -len("/close")], _json(body), merchant)
            return 204, None
        if path.startswith(prefix) and method == "GET":
            if query.get("mchid") != merchant.mchid:
                raise PayError(400, "PARAM_ERROR", "mchid 与请求签名的商户号不符")
            return 200, self.transaction(self._own_order(path[len(prefix) :], merchant))
        if path == "/v3/refund/domestic/refunds" and method == "POST":
            return 200, self._refund(_json(body), merchant)
        refunds = "/v3/refund/domestic/refunds/"
        if path.startswith(refunds) and method == "GET":
            return 200, self._refund_answer(self._own_refund(path[len(refunds) :], merchant))
        if path == "/v3/bill/tradebill" and method == "GET":
            return 200, self._bill_info(query, merchant)
        if path == "/v3/billdownload/file" and method == "GET":
            return 200, self._bill_files.get(query.get("token", ""), b"")
        raise PayError(404, "NOT_FOUND", f"no such API: {method} {path}")

    def _own_order(self, out_trade_no: str, merchant: FakeMerchant) -> FakeOrder:
        order = self.pay_orders.get(out_trade_no)
        if order is None or order.mchid != merchant.mchid:
            raise PayError(404, "ORDER_NOT_EXIST", "订单不存在")
        return order

    def _jsapi(self, data: dict[str, Any], merchant: FakeMerchant) -> dict[str, Any]:
        amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
        payer = data.get("payer") if isinstance(data.get("payer"), dict) else {}
        total, openid = amount.get("total"), payer.get("openid")
        if data.get("mchid") != merchant.mchid:
            raise PayError(400, "MCH_NOT_EXISTS", "商户号不存在或与签名不符")
        if data.get("appid") != merchant.appid:
            raise PayError(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配")
        no = data.get("out_trade_no")
        if not isinstance(no, str) or not 6 <= len(no) <= 32:
            raise PayError(400, "PARAM_ERROR", "out_trade_no 长度应为 6 到 32 个字符")
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise PayError(400, "PARAM_ERROR", "amount.total 应为正整数（分）")
        if amount.get("currency", "CNY") != "CNY" or not isinstance(openid, str) or not openid:
            raise PayError(400, "PARAM_ERROR", "currency 或 payer.openid 不合法")
        for key in ("description", "notify_url"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise PayError(400, "PARAM_ERROR", f"缺少 {key}")
        existing = self.pay_orders.get(no)
        if existing is not None:
            same = (existing.total, existing.openid, existing.appid) == (
                total, openid, data["appid"]
            )  # fmt: skip
            if existing.state == "SUCCESS":
                raise PayError(400, "ORDERPAID", "该订单已支付")
            if existing.state == "CLOSED":
                raise PayError(400, "ORDER_CLOSED", "订单已关闭")
            if not same:
                raise PayError(403, "OUT_TRADE_NO_USED", "商户订单号重复")
            return {"prepay_id": existing.prepay_id}
        order = FakeOrder(
            data["appid"], merchant.mchid, no, data["description"], data["notify_url"], total,
            "CNY", openid, "wx" + secrets.token_hex(16),
        )  # fmt: skip
        self.pay_orders[no] = order
        return {"prepay_id": order.prepay_id}

    def _close(self, out_trade_no: str, data: dict[str, Any], merchant: FakeMerchant) -> None:
        if data.get("mchid") != merchant.mchid:
            raise PayError(400, "PARAM_ERROR", "mchid 与请求签名的商户号不符")
        order = self._own_order(out_trade_no, merchant)
        if order.state in ("SUCCESS", "REFUND"):
            raise PayError(400, "ORDERPAID", "订单已支付，不能关闭")
        order.state = "CLOSED"

    def _refund(self, data: dict[str, Any], merchant: FakeMerchant) -> dict[str, Any]:
        order = self._own_order(str(data.get("out_trade_no", "")), merchant)
        amount = data.get("amount") if isinstance(data.get("amount"), dict) else {}
        refund_no = data.get("out_refund_no")
        if not isinstance(refund_no, str) or not refund_no:
            raise PayError(400, "PARAM_ERROR", "缺少 out_refund_no")
        if order.state not in ("SUCCESS", "REFUND"):
            raise PayError(400, "INVALID_REQUEST", "订单未支付，不能退款")
        if amount.get("total") != order.total or amount.get("currency", "CNY") != "CNY":
            raise PayError(400, "PARAM_ERROR", "订单金额与原订单不符")
        existing = self.pay_refunds.get(refund_no)
        if existing is None:
            refunded = sum(
                r.refund
                for r in self.pay_refunds.values()
                if r.out_trade_no == order.out_trade_no and r.status in ("PROCESSING", "SUCCESS")
            )
            if not isinstance(amount.get("refund"), int) or not (
                0 < amount["refund"] <= order.total - refunded
            ):
                raise PayError(400, "NOT_ENOUGH", "可退金额不足")
            existing = FakeRefund(
                "5030" + secrets.token_hex(12), refund_no, order.out_trade_no,
                order.transaction_id, amount["refund"], order.total,
                str(data.get("reason", "")), str(data.get("notify_url", "")), self.clock.now(),
            )  # fmt: skip
            self.pay_refunds[refund_no] = existing
            order.state = "REFUND"
        return self._refund_answer(existing)

    def _own_refund(self, out_refund_no: str, merchant: FakeMerchant) -> FakeRefund:
        refund = self.pay_refunds.get(out_refund_no)
        if refund is None or self.pay_orders[refund.out_trade_no].mchid != merchant.mchid:
            raise PayError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return refund

    @staticmethod
    def _refund_answer(existing: FakeRefund) -> dict[str, Any]:
        """A refund as the refund and the refund query APIs show it."""
        answer = {
            "refund_id": existing.refund_id,
            "out_refund_no": existing.out_refund_no,
            "transaction_id": existing.transaction_id,
            "out_trade_no": existing.out_trade_no,
            "status": existing.status,
            "create_time": _rfc3339(existing.created_at),
            "amount": {"total": existing.total, "refund": existing.refund, "currency": "CNY"},
        }
        if existing.success_time:
            answer["success_time"] = existing.success_time
        return answer

    def _bill_info(self, query: dict[str, str], merchant: FakeMerchant) -> dict[str, Any]:
        try:
            day = datetime.strptime(query.get("bill_date", ""), "%Y-%m-%d").date()
        except ValueError:
            raise PayError(400, "PARAM_ERROR", "bill_date 格式应为 YYYY-MM-DD") from None
        if day >= _beijing(self.clock.now()).date():
            raise PayError(400, "NO_STATEMENT_EXIST", "账单未生成，请次日10点后再下载")
        raw = self.trade_bill(merchant.mchid, day.isoformat()).encode("utf-8")
        token = secrets.token_urlsafe(16)
        self._bill_files[token] = raw
        return {
            "hash_type": "SHA1",
            "hash_value": hashlib.sha1(raw).hexdigest(),  # noqa: S324 - WeChat Pay's digest
            "download_url": f"{self.base_url}/v3/billdownload/file?token={token}",
        }

    def trade_bill(self, mchid: str, day: str) -> str:
        """The ALL trade bill of a Beijing day: paid orders, then refunds, then the totals."""
        return bill_text(self.pay_orders, self.pay_refunds, self.bill_totals, mchid, day)


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise PayError(400, "PARAM_ERROR", "请求体不是合法的 JSON") from None
    if not isinstance(data, dict):
        raise PayError(400, "PARAM_ERROR", "请求体应为 JSON 对象")
    return data
