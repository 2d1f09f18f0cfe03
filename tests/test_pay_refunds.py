"""Refunds of dues paid with WeChat Pay: asked by a collector with a reason (API, console, CLI),
booked as a reversal entry exactly once when WeChat Pay reports them done (notification or the
query job), refused in clear words otherwise.

Real HTTP to the app and to the fake WeChat Pay, real RSA signatures, real AES-GCM; the merchant's
keys are generated for each test. The suite clock is 2026-08-19 09:30 (+08:00): m1 owes January
to August at 120.00 a month.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine

from bot.fake import FakeWeChat
from core.clock import utcnow
from handlers.dues import record_payment
from handlers.errors import Forbidden
from handlers.pay import query_open_refunds, refund_order
from models.dues import DuesPayment
from models.outbox import OutboxMessage
from models.pay import PayOrder, PayRefund
from scheduler import jobs
from tests.support.api import Env
from tests.support.console import login, post

MONTHLY = 12_000


def paid(env: Env, fake: FakeWeChat, who: str, months: list[str]) -> PayOrder:
    """An order paid at the fake and booked through its notification."""
    r = env.api.post("/api/v1/dues/pay", token=env.token(who), json={"months": months})
    assert r.status_code == 201, r.text
    no = r.json()["order"]["out_trade_no"]
    fake.pay(no)
    with env.ctx():
        order = PayOrder.get(PayOrder.out_trade_no == no)
    assert order.state == "paid"
    return order


def refund_api(env: Env, payment_id: int, token: str, **body: Any) -> Any:
    body.setdefault("reason", "重复交纳")
    return env.api.post(f"/api/v1/dues/payments/{payment_id}/refund", token=token, json=body)


def ledger(env: Env) -> list[tuple[str, int, str]]:
    with env.ctx():
        return [
            (p.kind, p.amount_fen, p.source) for p in DuesPayment.select().order_by(DuesPayment.id)
        ]


def outbox(env: Env, kind: str) -> list[dict[str, Any]]:
    with env.ctx():
        rows = OutboxMessage.select().where(OutboxMessage.kind == kind)
        return [{"to": r.target_id, **json.loads(r.payload)} for r in rows]


def owed_months(env: Env, who: str) -> list[str]:
    mine = env.api.get("/api/v1/dues/me", token=env.token(who)).json()
    return [m["month"] for m in mine["owed"]]


def test_a_refund_from_the_api_is_booked_once_as_a_reversal(penv: Env, fake: FakeWeChat) -> None:
    order = paid(penv, fake, "m1", ["2026-01", "2026-02"])
    sec = penv.token("sec")
    # The entry paid with WeChat Pay is not reversed by hand: the money would stay with us.
    by_hand = penv.api.post(
        f"/api/v1/dues/payments/{order.payment_id}/reverse", token=sec, json={"reason": "错了"}
    )
    assert (by_hand.status_code, by_hand.json()["errcode"]) == (422, "use_refund")
    assert "请办理退款" in by_hand.json()["errmsg"]
    r = refund_api(penv, order.payment_id, sec)
    assert r.status_code == 202, r.text
    refund = r.json()["refund"]
    assert (refund["state"], refund["amount_fen"], refund["reason"]) == (
        "processing", 24000, "重复交纳"
    )  # fmt: skip
    assert r.json()["order"]["state"] == "paid" and refund["reversal_id"] is None
    at_wechat = fake.pay_refunds[refund["out_refund_no"]]
    assert (at_wechat.refund, at_wechat.total, at_wechat.reason) == (24000, 24000, "重复交纳")
    assert at_wechat.notify_url == penv.server.url + "/pay/notify"
    again = refund_api(penv, order.payment_id, sec)
    assert (again.status_code, again.json()["errcode"]) == (409, "refund_pending")
    assert ledger(penv) == [("dues", 24000, "wxpay")]  # nothing booked before WeChat Pay says so
    # WeChat Pay finishes the refund and says so, then says it again and again.
    assert fake.notify_refund(refund["out_refund_no"]) == 204
    delivery = fake.deliveries[-1]
    for _ in range(5):
        status = fake.post_notification(delivery.url, delivery.headers, delivery.body)
        assert status.status_code == 204
    assert ledger(penv) == [("dues", 24000, "wxpay"), ("reversal", -24000, "wxpay")]
    with penv.ctx():
        done = PayRefund.get(PayRefund.out_refund_no == refund["out_refund_no"])
        reversal = DuesPayment.get_by_id(done.reversal_id)
        assert PayOrder.get_by_id(order.id).state == "refunded"
    assert done.state == "success" and reversal.reverses_id == order.payment_id
    assert refund["out_refund_no"] in reversal.note and "重复交纳" in reversal.note
    assert "2026-01" in owed_months(penv, "m1")  # the months may be paid again
    [told] = outbox(penv, "pay_refunded")
    assert told["to"] == penv.people["m1"].id and "240.00元已原路退回" in told["text"]
    twice = refund_api(penv, order.payment_id, sec)
    assert (twice.status_code, twice.json()["errcode"]) == (409, "already_refunded")
    assert "已经退款" in twice.json()["errmsg"]


def test_refusals_say_what_is_wrong(penv: Env, fake: FakeWeChat) -> None:
    order = paid(penv, fake, "m1", ["2026-01"])
    sec = penv.token("sec")
    with penv.ctx():
        by_hand = record_payment(
            penv.people["sec"], penv.people["m1"], MONTHLY, [date(2026, 2, 1)],
            now=utcnow(), settings=penv.settings,
        ).payment  # fmt: skip
    cash = refund_api(penv, by_hand.id, sec)
    assert (cash.status_code, cash.json()["errcode"]) == (422, "not_wxpay")
    assert "不是通过微信支付交纳的" in cash.json()["errmsg"]
    big = refund_api(penv, order.payment_id, sec, amount_fen=MONTHLY + 1)
    assert (big.status_code, big.json()["errcode"]) == (422, "amount_too_large")
    assert "超过这笔实付金额 120.00元" in big.json()["errmsg"]
    part = refund_api(penv, order.payment_id, sec, amount_fen=100)
    assert (part.status_code, part.json()["errcode"]) == (422, "partial_refund")
    blank = refund_api(penv, order.payment_id, sec, reason="  ")
    assert blank.status_code == 400
    member = refund_api(penv, order.payment_id, penv.token("m1"))
    assert member.status_code == 403
    other = refund_api(penv, order.payment_id, penv.token("secb"))  # B's secretary: not seen
    assert (other.status_code, other.json()["errcode"]) == (404, "not_found")
    with penv.ctx(), pytest.raises(Forbidden, match="您只能办理本支部的党费"):
        refund_order(
            penv.people["secb"], "错了", order_id=order.id, now=utcnow(), settings=penv.settings
        )
    assert fake.pay_refunds == {}
    assert ledger(penv) == [("dues", MONTHLY, "wxpay"), ("dues", MONTHLY, "collector")]


def test_the_cli_refund_and_a_lost_notification_found_by_the_query_job(
    penv: Env, fake: FakeWeChat
) -> None:
    order = paid(penv, fake, "m1", ["2026-03"])
    runner = penv.app.test_cli_runner()
    both = runner.invoke(args=["dues", "refund", "--reason", "错交"])
    assert both.exit_code == 1 and "二选一" in both.output
    out = runner.invoke(
        args=["dues", "refund", "--order", order.out_trade_no, "--reason", "党员交错月份"]
    )
    assert out.exit_code == 0, out.output
    assert "已向微信支付申请退款：党员丙 120.00元" in out.output
    with penv.ctx():
        refund = PayRefund.get(PayRefund.order == order.id)
    assert refund.requested_by_id is None
    fake.finish_refund(refund.out_refund_no)  # done at WeChat Pay; its notification lost
    with penv.ctx():
        assert query_open_refunds(utcnow(), penv.settings) == {}  # too soon to ask
    with time_machine.travel(utcnow() + timedelta(minutes=6)), penv.ctx():
        assert jobs.CRON_JOBS["pay_query"](penv.settings, utcnow()) == "1 refund booked"
        assert query_open_refunds(utcnow(), penv.settings) == {}
    assert ledger(penv) == [("dues", MONTHLY, "wxpay"), ("reversal", -MONTHLY, "wxpay")]
    # The late notification books nothing more.
    assert fake.notify_refund(refund.out_refund_no) == 204
    assert sum(fen for _, fen, _ in ledger(penv)) == 0
    again = runner.invoke(
        args=["dues", "refund", "--payment", str(order.payment_id), "--reason", "x"]
    )
    assert again.exit_code == 1 and "已经退款" in again.output


def test_a_refund_wechat_never_got_is_sent_again_and_a_failed_one_may_be_asked_again(
    penv: Env, fake: FakeWeChat
) -> None:
    order = paid(penv, fake, "m1", ["2026-04"])
    sec = penv.token("sec")
    fake.inject("/v3/refund/domestic/refunds", http_status=502)
    r = refund_api(penv, order.payment_id, sec)
    assert r.status_code == 202 and r.json()["refund"]["state"] == "processing"
    no = r.json()["refund"]["out_refund_no"]
    assert no not in fake.pay_refunds
    with time_machine.travel(utcnow() + timedelta(minutes=6)), penv.ctx():
        assert query_open_refunds(utcnow(), penv.settings) == {"refund sent again": 1}
    assert fake.pay_refunds[no].status == "PROCESSING"
    # WeChat Pay could not pay it back (the payer's account is closed): ABNORMAL.
    assert fake.notify_refund(no, "ABNORMAL") == 204
    with penv.ctx():
        failed = PayRefund.get(PayRefund.out_refund_no == no)
        assert PayOrder.get_by_id(order.id).state == "paid"
    assert failed.state == "failed" and failed.active_order is None
    assert any("退款未成功" in m["text"] for m in outbox(penv, "pay_problem"))
    assert ledger(penv) == [("dues", MONTHLY, "wxpay")]
    second = refund_api(penv, order.payment_id, sec, reason="重新退款")
    assert second.status_code == 202
    assert fake.notify_refund(second.json()["refund"]["out_refund_no"]) == 204
    assert sum(fen for _, fen, _ in ledger(penv)) == 0


def test_the_console_refunds_an_order_that_was_never_booked(penv: Env, fake: FakeWeChat) -> None:
    """Paid after its months were paid another way: no ledger entry to reverse; the collector
    refunds it from the orders page, and the ledger keeps only the other payment."""
    r = penv.api.post("/api/v1/dues/pay", token=penv.token("m1"), json={"months": ["2026-05"]})
    no = r.json()["order"]["out_trade_no"]
    with penv.ctx():
        record_payment(
            penv.people["sec"], penv.people["m1"], MONTHLY, [date(2026, 5, 1)],
            now=utcnow(), settings=penv.settings,
        )  # fmt: skip
    fake.pay(no)
    with penv.ctx():
        order = PayOrder.get(PayOrder.out_trade_no == no)
    assert order.payment_id is None and "需退款" in order.problem
    client = login(penv.app, penv.people["sec"])
    branch = penv.branches["A"].id
    orders = client.get(f"/console/branch/{branch}/dues/orders")
    assert orders.status_code == 200
    assert no in orders.text and order.transaction_id in orders.text and "已支付" in orders.text
    path = f"/console/branch/{branch}/dues/orders/{order.id}/refund"
    assert "申请退款 120.00元" in client.get(path).text
    blank = post(client, path, {"reason": ""})
    assert blank.status_code == 400 and "请写明退款原因" in blank.text
    done = post(client, path, {"reason": "月份已由收缴员登记"})
    assert done.status_code == 302
    assert "已向微信支付申请退款" in client.get(f"/console/branch/{branch}/dues/orders").text
    refund = next(iter(fake.pay_refunds.values()))
    assert fake.notify_refund(refund.out_refund_no) == 204
    with penv.ctx():
        assert PayOrder.get_by_id(order.id).state == "refunded"
    assert ledger(penv) == [("dues", MONTHLY, "collector")]
    # Another branch's secretary sees neither the page nor the order.
    other = login(penv.app, penv.people["secb"])
    assert other.get(path).status_code in (403, 404)


def test_the_ledger_offers_a_refund_on_wechat_entries(penv: Env, fake: FakeWeChat) -> None:
    order = paid(penv, fake, "m1", ["2026-06"])
    client = login(penv.app, penv.people["sec"])
    branch = penv.branches["A"].id
    page = client.get(f"/console/branch/{branch}/dues/payments").text
    refund_link = f"/console/branch/{branch}/dues/orders/{order.id}/refund"
    assert refund_link in page
    assert f"/dues/payments/{order.payment_id}/reverse" not in page
