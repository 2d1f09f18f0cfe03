"""The daily reconciliation of WeChat Pay's trade bill against the ledger: every line matched,
differences (paid but not booked, booked but not paid, amounts that differ, refunds) stored once,
listed in the secretary's and the collector's digests, resolved when they match later or when a
collector settles them.

Real HTTP to the app and to the fake WeChat Pay (the bill downloaded, its SHA1 checked), real
signatures; the suite clock is 2026-08-19 09:30 (+08:00), and the bill of the 19th is reconciled
the next morning at 10:00.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bot.fake import FakeWeChat
from core.clock import utcnow
from handlers import reminders
from handlers.pay import book_transaction, query_open_orders, reconcile_day
from handlers.pay.reconcile import parse_bill
from models.dues import DuesPayment
from models.pay import PayDifference, PayOrder
from scheduler import jobs
from tests import factories as f
from tests.support.api import Env
from tests.support.console import login, post
from tests.support.pay import Merchant, assessed_pay_env, merchant

SH = ZoneInfo("Asia/Shanghai")
MONTHLY = 12_000
DAY = date(2026, 8, 19)
NEXT_MORNING = datetime(2026, 8, 20, 10, 0, tzinfo=SH)


@pytest.fixture
def penv(make_env: Any, shop: Merchant, fake: FakeWeChat) -> Env:
    env = assessed_pay_env(make_env, shop, fake)
    with env.ctx():
        env.people["collector"] = f.member("收缴员甲", env.branches["A"], roles="dues_collector")
    return env


def order(env: Env, who: str, month: str) -> str:
    r = env.api.post("/api/v1/dues/pay", token=env.token(who), json={"months": [month]})
    assert r.status_code == 201, r.text
    return r.json()["order"]["out_trade_no"]


def open_diffs(env: Env) -> dict[str, str]:
    with env.ctx():
        rows = PayDifference.select().where(PayDifference.resolved_at.is_null())
        return {d.ref: d.kind for d in rows}


def ledger_fen(env: Env) -> int:
    with env.ctx():
        return sum(p.amount_fen for p in DuesPayment.select())


def digest_texts(env: Env, when: datetime) -> dict[tuple[str, int], str]:
    with env.ctx():
        rows = reminders.secretary_digests(when, env.settings)
    return {(r.kind, r.target_id): r.payload["text"] for r in rows}


def a_day_of_payments(env: Env, fake: FakeWeChat) -> dict[str, str]:
    """The 19th: one payment booked as it should be, one paid with its notification lost, one
    the bill shows for another sum, one refunded, and one booked that WeChat Pay never took."""
    nos = {"good": order(env, "m1", "2026-01"), "lost": order(env, "mb", "2026-01")}
    fake.pay(nos["good"])
    fake.pay(nos["lost"], notify=False)
    nos["odd"] = order(env, "m1", "2026-02")  # one open order per member: pay, then the next
    fake.pay(nos["odd"])
    fake.bill_totals[nos["odd"]] = MONTHLY - 1
    nos["refunded"] = order(env, "m1", "2026-03")
    fake.pay(nos["refunded"])
    with env.ctx():
        payment = PayOrder.get(PayOrder.out_trade_no == nos["refunded"]).payment_id
    r = env.api.post(
        f"/api/v1/dues/payments/{payment}/refund", token=env.token("sec"), json={"reason": "错交"}
    )
    assert r.status_code == 202
    assert fake.notify_refund(r.json()["refund"]["out_refund_no"]) == 204
    # Booked here, never paid at WeChat Pay (a transaction that is not in its books).
    nos["forged"] = order(env, "m1", "2026-04")
    data = fake.transaction(fake.pay_order(nos["forged"]))
    data.update(trade_state="SUCCESS", transaction_id="4200000000000000000000000001")
    with env.ctx():
        assert book_transaction(nos["forged"], data, now=utcnow(), settings=env.settings).payment
    return nos


def test_the_morning_job_reconciles_yesterday_and_tells_the_collectors(
    penv: Env, fake: FakeWeChat
) -> None:
    nos = a_day_of_payments(penv, fake)
    assert ledger_fen(penv) == 3 * MONTHLY  # good, odd, forged (refunded: reversed)
    with time_machine.travel(NEXT_MORNING, tick=False), penv.ctx():
        said = jobs.CRON_JOBS["pay_reconcile"](penv.settings, utcnow())
    assert said == ("2026-08-19: 4 payments, 1 refunds, 3 matched, 3 new differences, 0 resolved")
    assert open_diffs(penv) == {
        nos["lost"]: "unbooked",
        nos["odd"]: "amount",
        nos["forged"]: "unpaid",
    }
    with penv.ctx():
        odd = PayDifference.get(PayDifference.ref == nos["odd"])
    assert (odd.bill_fen, odd.ledger_fen) == (MONTHLY - 1, MONTHLY)
    assert "账单金额 119.99元，党费账目为 120.00元" in odd.detail
    texts = digest_texts(penv, NEXT_MORNING)
    a_sec = texts[("secretary_digest", penv.people["sec"].id)]
    assert "微信支付对账：2 处差异未核对（金额不符 1、已入账未到账 1）" in a_sec
    assert "但账单上没有这笔收款" in a_sec
    a_collector = texts[("collector_digest", penv.people["collector"].id)]
    assert a_collector.startswith("【收缴员待办】8月20日") and "金额不符 1" in a_collector
    b_sec = texts[("secretary_digest", penv.people["secb"].id)]
    assert "已到账未入账 1" in b_sec and "党员戊 通过微信支付交纳的 120.00元 已到账" in b_sec
    # Reconciling again lists nothing new; the lost one, booked by the query job, is resolved.
    with time_machine.travel(NEXT_MORNING, tick=False), penv.ctx():
        assert query_open_orders(utcnow(), penv.settings) == {"booked": 1}
        again = reconcile_day(DAY, now=utcnow(), settings=penv.settings)
    assert (again.new, again.resolved, again.matched) == ([], 1, 4)
    assert set(open_diffs(penv)) == {nos["odd"], nos["forged"]}
    b_text = digest_texts(penv, NEXT_MORNING).get(("secretary_digest", penv.people["secb"].id))
    assert b_text is None or "微信支付对账" not in b_text
    # The ledger to the fen: the bill's 4 payments less the refund, the odd fen and the forged.
    bill = 4 * MONTHLY - 1 - MONTHLY
    assert ledger_fen(penv) == bill + 1 + MONTHLY


def test_a_difference_is_settled_by_a_collector_and_the_cli_prints_a_day(
    penv: Env, fake: FakeWeChat
) -> None:
    nos = a_day_of_payments(penv, fake)
    runner = penv.app.test_cli_runner()
    with time_machine.travel(NEXT_MORNING, tick=False):
        early = runner.invoke(args=["pay", "reconcile", "--day", "2026-08-20"])
        assert early.exit_code == 1 and "尚未生成 2026-08-20 的账单" in early.output
        out = runner.invoke(args=["pay", "reconcile", "--day", "2026-08-19"])
    assert out.exit_code == 0, out.output
    assert (
        "2026-08-19 微信支付对账：收款 4 笔 479.99元，退款 1 笔 120.00元，对上 3 笔" in out.output
    )
    assert f"已入账未到账（新） {nos['forged']}" in out.output
    with penv.ctx():
        forged = PayDifference.get(PayDifference.ref == nos["forged"])
    client = login(penv.app, penv.people["collector"])
    branch = penv.branches["A"].id
    page = client.get(f"/console/branch/{branch}/dues/orders")
    assert page.status_code == 200 and "对账差异" in page.text and nos["forged"] in page.text
    path = f"/console/branch/{branch}/dues/differences/{forged.id}/settle"
    orders = f"/console/branch/{branch}/dues/orders"
    assert post(client, path, {"note": ""}, page=orders).status_code == 302
    assert "请写明处理情况" in client.get(orders).text
    assert nos["forged"] in open_diffs(penv)
    done = post(client, path, {"note": "已作废误记的入账并通知党员"}, page=orders)
    assert done.status_code == 302
    assert nos["forged"] not in open_diffs(penv)
    with time_machine.travel(NEXT_MORNING, tick=False):
        twice = runner.invoke(args=["pay", "reconcile", "--day", "2026-08-19"])
    assert "新差异 0 处" in twice.output and nos["forged"] not in twice.output
    # Another branch's secretary cannot settle A's differences.
    with penv.ctx():
        odd = PayDifference.get(PayDifference.ref == nos["odd"])
    other = login(penv.app, penv.people["secb"])
    refused = post(
        other, f"/console/branch/{branch}/dues/differences/{odd.id}/settle", {"note": "x"},
        page=f"/console/branch/{penv.branches['B'].id}/dues/orders",
    )  # fmt: skip
    assert refused.status_code in (403, 404)
    assert nos["odd"] in open_diffs(penv)


def test_the_bill_parses_to_the_fen(fake: FakeWeChat, tmp_path: Path) -> None:
    shop = merchant(fake, tmp_path)
    client = shop.client(fake)
    client.jsapi(shop.appid, "DF0001", "党费", 12345, "mini-m1", "http://127.0.0.1:9/")
    fake.pay("DF0001", notify=False)
    lines = parse_bill(fake.trade_bill(shop.mchid, DAY.isoformat()))
    [line] = lines
    assert (line.kind, line.out_trade_no, line.fen) == ("payment", "DF0001", 12345)
    assert line.transaction_id == fake.pay_order("DF0001").transaction_id
