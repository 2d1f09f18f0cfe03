"""Dues paid with WeChat Pay: the order, the notification booked once, the order jobs.

Real HTTP to the app and to the fake WeChat Pay, real RSA signatures, real AES-GCM; the merchant's
keys are generated for each test. The suite clock is 2026-08-19 09:30 (+08:00): m1 owes January
to August at 120.00 a month.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import date, timedelta
from typing import Any

import pytest
import requests
import time_machine
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from bot.fake import FakeWeChat
from core.clock import utcnow
from handlers.dues import record_payment
from handlers.pay import close_stale_orders, query_open_orders
from models.dues import DuesMonth, DuesPayment
from models.outbox import OutboxMessage
from models.pay import PayOrder
from scheduler import jobs
from tests import factories as f
from tests.support.api import Env
from tests.support.pay import Merchant

MONTHLY = 12_000


def order_for(env: Env, token: str, months: list[str] | None = None) -> requests.Response:
    body = {} if months is None else {"months": months}
    return env.api.post("/api/v1/dues/pay", token=token, json=body)


def payments(env: Env) -> list[DuesPayment]:
    with env.ctx():
        return list(DuesPayment.select().order_by(DuesPayment.id))


def balanced(env: Env) -> int:
    """The ledger's total, checked to the fen against its months (every entry here is dues)."""
    with env.ctx():
        rows = list(DuesPayment.select())
        for p in rows:
            covered = DuesMonth.select().where(DuesMonth.payment == p.id)
            assert sum(m.amount_fen for m in covered) == p.amount_fen
        return sum(p.amount_fen for p in rows)


def outbox(env: Env, kind: str) -> list[OutboxMessage]:
    with env.ctx():
        return list(OutboxMessage.select().where(OutboxMessage.kind == kind))


def test_without_merchant_settings_the_route_refuses_clearly(env: Env) -> None:
    with env.ctx():
        f.assess(env.people["m1"], base_fen=800000, from_month=date(2026, 1, 1))
    r = order_for(env, env.token("m1"))
    assert r.status_code == 422
    assert r.json()["errcode"] == "pay_not_configured"
    assert "尚未开通微信支付" in r.json()["errmsg"] and "提交交纳报告" in r.json()["errmsg"]


def test_an_order_for_everything_owed_signed_for_wx_request_payment(
    penv: Env, fake: FakeWeChat, shop: Merchant
) -> None:
    token = penv.token("m1")
    r = order_for(penv, token)
    assert r.status_code == 201, r.text
    answer = r.json()
    order = answer["order"]
    assert order["amount_fen"] == 8 * MONTHLY and order["amount_text"] == "960.00元"
    assert [m["month"] for m in order["months"]] == [f"2026-{n:02d}" for n in range(1, 9)]
    assert order["state"] == "created" and answer["reused"] is False
    at_wechat = fake.pay_order(order["out_trade_no"])
    assert at_wechat is not None
    assert (at_wechat.total, at_wechat.openid) == (8 * MONTHLY, "mini-m1")
    assert at_wechat.notify_url == penv.server.url + "/pay/notify"
    params = answer["payment"]
    assert params["package"] == f"prepay_id={at_wechat.prepay_id}"
    assert params["signType"] == "RSA" and params["appId"] == shop.appid
    signed = [params[k] for k in ("appId", "timeStamp", "nonceStr", "package")]
    message = "".join(part + "\n" for part in signed)
    shop.key.public_key().verify(
        base64.b64decode(params["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    again = order_for(penv, token)
    assert again.status_code == 200 and again.json()["reused"] is True
    assert again.json()["order"]["out_trade_no"] == order["out_trade_no"]
    # Other months: the open order is closed at WeChat Pay and a new one made.
    other = order_for(penv, token, ["2026-08", "2026-09"])
    assert other.status_code == 201
    assert other.json()["order"]["amount_fen"] == 2 * MONTHLY
    assert fake.pay_order(order["out_trade_no"]).state == "CLOSED"
    with penv.ctx():
        states = [o.state for o in PayOrder.select().order_by(PayOrder.id)]
    assert states == ["closed", "created"]


def test_the_client_never_names_the_amount_and_bad_months_are_refused(penv: Env) -> None:
    token = penv.token("m1")
    r = penv.api.post("/api/v1/dues/pay", token=token, json={"amount_fen": 1})
    assert r.status_code == 400
    assert order_for(penv, token, ["2025-12"]).json()["errcode"] == "month_before_start"
    assert order_for(penv, token, ["2027-12"]).json()["errcode"] == "month_too_far_ahead"
    with penv.ctx():
        assert PayOrder.select().count() == 0
    unset = order_for(penv, penv.token("sec"))  # no category: nothing to compute from
    assert (unset.status_code, unset.json()["errcode"]) == (422, "dues_not_set")


def test_a_payment_is_booked_once_through_20_duplicate_notifications(
    penv: Env, fake: FakeWeChat
) -> None:
    no = order_for(penv, penv.token("m1"), ["2026-01", "2026-02"]).json()["order"]["out_trade_no"]
    transaction_id = fake.pay(no, notify=False)
    headers, body = fake.notification(no)
    url = penv.server.url + "/pay/notify"
    statuses: list[int] = []

    def send() -> None:
        statuses.append(fake.post_notification(url, headers, body).status_code)

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(10):
        send()
    assert statuses == [204] * 20
    [payment] = payments(penv)
    assert (payment.source, payment.amount_fen, payment.recorded_by_id) == ("wxpay", 24000, None)
    assert transaction_id in payment.note
    assert balanced(penv) == fake.pay_order(no).total == 24000
    with penv.ctx():
        order = PayOrder.get(PayOrder.out_trade_no == no)
        months = sorted(m.month for m in DuesMonth.select().where(DuesMonth.payment == payment.id))
    assert (order.state, order.transaction_id, order.payment_id) == (
        "paid", transaction_id, payment.id
    )  # fmt: skip
    assert months == [date(2026, 1, 1), date(2026, 2, 1)]
    [told] = outbox(penv, "pay_confirmed")
    assert told.target_id == penv.people["m1"].id
    assert "240.00元" in json.loads(told.payload)["text"]
    # The member's page shows the months paid, by 微信支付.
    mine = penv.api.get("/api/v1/dues/me", token=penv.token("m1")).json()
    assert mine["recent"][0]["source"] == "wxpay"


def test_the_notification_the_fake_sends_itself_is_answered_204(
    penv: Env, fake: FakeWeChat
) -> None:
    no = order_for(penv, penv.token("m1"), ["2026-03"]).json()["order"]["out_trade_no"]
    fake.pay(no)  # notifies at once
    assert fake.deliveries[-1].statuses == [204]
    assert fake.redeliver_due() == 0
    assert balanced(penv) == MONTHLY


def refused(penv: Env, fake: FakeWeChat, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    r = fake.post_notification(penv.server.url + "/pay/notify", headers, body)
    assert 400 <= r.status_code < 500, r.status_code
    assert r.json()["code"] == "FAIL" and r.json()["message"]
    return {"status": r.status_code}


def test_forged_replayed_and_mismatched_notifications_are_refused(
    penv: Env, fake: FakeWeChat
) -> None:
    no = order_for(penv, penv.token("m1"), ["2026-01"]).json()["order"]["out_trade_no"]
    fake.pay(no, notify=False)
    headers, body = fake.notification(no)
    tampered = body.replace(b'"summary": "', b'"summary": "x')
    assert refused(penv, fake, headers, tampered)["status"] == 401
    assert (
        refused(penv, fake, {**headers, "Wechatpay-Serial": "PUB_KEY_ID_OTHER"}, body)["status"]
        == 401
    )
    stale = fake.notification(no, timestamp=utcnow().timestamp() - 301)
    assert refused(penv, fake, *stale)["status"] == 401
    for changes in (
        {"mchid": "1999999999"},
        {"appid": "wxotherapp"},
        {"amount": {"total": 1, "currency": "CNY"}},
        {"amount": {"total": MONTHLY, "currency": "USD"}},
        {"out_trade_no": "DF_NO_SUCH_ORDER"},
        {"trade_state": "NOTPAY"},
    ):
        assert refused(penv, fake, *fake.notification(no, changes=changes))["status"] == 400
    assert payments(penv) == []
    with penv.ctx():
        assert PayOrder.get(PayOrder.out_trade_no == no).state == "created"
    problems = outbox(penv, "pay_problem")
    assert {p.target_id for p in problems} == {penv.people["sec"].id}
    assert any("金额不符" in json.loads(p.payload)["text"] for p in problems)
    # The genuine one is still booked.
    genuine = fake.post_notification(penv.server.url + "/pay/notify", headers, body)
    assert genuine.status_code == 204
    assert balanced(penv) == MONTHLY


def test_a_notification_for_a_closed_order(penv: Env, fake: FakeWeChat) -> None:
    """Closed here while the payer paid: booked if its months are free; else the collectors are
    told to refund, nothing is booked twice, and WeChat Pay is answered success."""
    token = penv.token("m1")
    first = order_for(penv, token, ["2026-01"]).json()["order"]["out_trade_no"]
    with penv.ctx():
        PayOrder.update(state="closed", open_member=None).execute()
    second = order_for(penv, token, ["2026-02"]).json()["order"]["out_trade_no"]
    with penv.ctx():
        PayOrder.update(state="closed", open_member=None).where(
            PayOrder.out_trade_no == second
        ).execute()
        record_payment(
            penv.people["sec"], penv.people["m1"], MONTHLY, [date(2026, 2, 1)],
            now=utcnow(), settings=penv.settings,
        )  # fmt: skip
    fake.pay(first)
    fake.pay(second)
    assert [d.statuses for d in fake.deliveries] == [[204], [204]]
    with penv.ctx():
        orders = {o.out_trade_no: o for o in PayOrder.select()}
    assert orders[first].state == "paid" and orders[first].payment_id is not None
    assert orders[second].state == "paid" and orders[second].payment_id is None
    assert "需退款" in orders[second].problem
    assert [p.source for p in payments(penv)] == ["collector", "wxpay"]
    assert balanced(penv) == 2 * MONTHLY
    assert any("办理退款" in json.loads(p.payload)["text"] for p in outbox(penv, "pay_problem"))


def test_a_lost_notification_is_recovered_by_the_query_job(penv: Env, fake: FakeWeChat) -> None:
    no = order_for(penv, penv.token("m1"), ["2026-01"]).json()["order"]["out_trade_no"]
    other = order_for(penv, penv.token("mb"), ["2026-01"]).json()["order"]["out_trade_no"]
    fake.pay(no, notify=False)
    with penv.ctx():
        assert query_open_orders(utcnow(), penv.settings) == {}  # too soon to ask
    with time_machine.travel(utcnow() + timedelta(minutes=6)), penv.ctx():
        counts = query_open_orders(utcnow(), penv.settings)
        again = query_open_orders(utcnow(), penv.settings)
    assert counts == {"booked": 1, "open": 1}
    assert again == {"open": 1}
    assert balanced(penv) == MONTHLY
    assert len(outbox(penv, "pay_confirmed")) == 1
    # The late notification books nothing more.
    assert fake.notify(no) == 204
    assert balanced(penv) == MONTHLY
    # Two hours on, the unpaid order is closed, here and at WeChat Pay.
    with time_machine.travel(utcnow() + timedelta(minutes=121)), penv.ctx():
        closed = close_stale_orders(utcnow(), penv.settings)
    assert closed == {"closed": 1}
    assert fake.pay_order(other).state == "CLOSED"
    with penv.ctx():
        assert PayOrder.get(PayOrder.out_trade_no == other).state == "closed"
    # The member may pay again: a new order; the scheduled job leaves it alone for now.
    assert order_for(penv, penv.token("mb"), ["2026-01"]).status_code == 201
    with penv.ctx():
        assert jobs.CRON_JOBS["pay_query"](penv.settings, utcnow()) == "nothing to do"
        assert jobs.CRON_JOBS["pay_close"](penv.settings, utcnow()) == "nothing to do"


def test_the_close_job_books_an_order_paid_in_the_meantime(penv: Env, fake: FakeWeChat) -> None:
    no = order_for(penv, penv.token("m1"), ["2026-01"]).json()["order"]["out_trade_no"]
    fake.pay(no, notify=False)
    with time_machine.travel(utcnow() + timedelta(minutes=121)), penv.ctx():
        assert close_stale_orders(utcnow(), penv.settings) == {"booked": 1}
    assert balanced(penv) == MONTHLY


def test_a_merchant_number_needs_every_merchant_setting(shop: Merchant, fake: FakeWeChat) -> None:
    from core import config

    with pytest.raises(config.ConfigError) as missing:
        config.load(overrides={"pay": {"mchid": "1900000109"}}, environ={})
    assert missing.value.key == "pay.merchant_serial"
    short = {**shop.settings(fake), "apiv3_key": "too-short"}
    with pytest.raises(config.ConfigError) as bad_key:
        config.load(overrides={"pay": short}, environ={})
    assert bad_key.value.key == "pay.apiv3_key"
    loaded = config.load(overrides={"pay": shop.settings(fake)}, environ={})
    assert loaded.pay.mchid == "1900000109"
    assert shop.apiv3_key not in str(config.redacted(loaded))  # never logged
