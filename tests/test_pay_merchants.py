"""WeChat Pay merchants per committee (党委): each committee's members pay to its own merchant,
a notification is verified with the merchant it was made for, and a committee without one keeps
the report-and-confirm way. Real HTTP to the app and to the fake, real keys made per test."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine

from bot.fake import FakeWeChat
from core.clock import utcnow
from core.config import MerchantSettings, redacted
from handlers.pay import close_stale_orders, query_open_orders
from models.pay import PayOrder
from tests import factories as f
from tests.support.api import Env
from tests.support.pay import Merchant, merchant

MONTHLY = 12_000
OWN, OTHER = "测试党委", "其他党委"


def committee_settings(shop: Merchant, fake: FakeWeChat, key_file: Path | None) -> dict:
    values = {k: v for k, v in shop.settings(fake).items() if k in MerchantSettings.model_fields}
    if key_file is not None:  # the APIv3 key from a file, not the settings
        key_file.write_text(shop.apiv3_key + "\n", encoding="ascii")
        values.update(apiv3_key="", apiv3_key_file=str(key_file))
    return values


@pytest.fixture
def shops(fake: FakeWeChat, tmp_path: Path) -> dict[str, Merchant]:
    return {
        OWN: merchant(fake, tmp_path / "own", mchid="1900000201"),
        OTHER: merchant(fake, tmp_path / "other", mchid="1900000202"),
    }


@pytest.fixture
def menv(make_env: Any, shops: dict[str, Merchant], fake: FakeWeChat, tmp_path: Path) -> Env:
    """No default merchant: each committee has its own (the other one's APIv3 key in a file)."""
    merchants = {
        OWN: committee_settings(shops[OWN], fake, None),
        OTHER: committee_settings(shops[OTHER], fake, tmp_path / "other" / "apiv3_key"),
    }
    notify_url = "https://zhibu.example.org/pay/notify"  # the server's own, set once it runs
    pay = {"base_url": fake.base_url, "notify_url": notify_url, "merchants": merchants}
    env = make_env(pay=pay)
    env.settings.pay.notify_url = env.server.url + "/pay/notify"
    with env.ctx():
        for key in ("m1", "mx"):
            f.assess(env.people[key], base_fen=800000, from_month=date(2026, 1, 1))
    return env


def order_for(env: Env, who: str) -> dict[str, Any]:
    r = env.api.post("/api/v1/dues/pay", token=env.token(who), json={"months": ["2026-01"]})
    assert r.status_code == 201, r.text
    return r.json()


def test_each_committee_pays_its_own_merchant_and_books(
    menv: Env, fake: FakeWeChat, shops: dict[str, Merchant]
) -> None:
    own, other = order_for(menv, "m1"), order_for(menv, "mx")
    own_no, other_no = own["order"]["out_trade_no"], other["order"]["out_trade_no"]
    assert fake.pay_order(own_no).mchid == shops[OWN].mchid
    assert fake.pay_order(other_no).mchid == shops[OTHER].mchid
    with menv.ctx():
        assert PayOrder.get(PayOrder.out_trade_no == own_no).mchid == shops[OWN].mchid
        assert PayOrder.get(PayOrder.out_trade_no == other_no).mchid == shops[OTHER].mchid
    for no in (own_no, other_no):
        fake.pay(no)  # the notification goes out now, verified with the order's merchant
    with menv.ctx():
        paid = {o.out_trade_no: o.state for o in PayOrder.select()}
    assert paid == {own_no: "paid", other_no: "paid"}


def test_a_notification_made_for_one_merchant_is_refused_for_the_others_order(
    menv: Env, fake: FakeWeChat, shops: dict[str, Merchant]
) -> None:
    other_no = order_for(menv, "mx")["order"]["out_trade_no"]
    fake.pay(other_no, notify=False)
    url = menv.server.url + "/pay/notify"
    for changes in ({}, {"mchid": shops[OWN].mchid}):
        forged = fake.notification(other_no, changes=changes, for_mchid=shops[OWN].mchid)
        r = fake.post_notification(url, *forged)
        assert r.status_code == 400 and r.json()["code"] == "FAIL"
    with menv.ctx():
        assert PayOrder.get(PayOrder.out_trade_no == other_no).state == "created"
    genuine = fake.post_notification(url, *fake.notification(other_no))
    assert genuine.status_code == 204
    with menv.ctx():
        assert PayOrder.get(PayOrder.out_trade_no == other_no).state == "paid"


def test_the_jobs_ask_each_orders_own_merchant(
    menv: Env, fake: FakeWeChat, shops: dict[str, Merchant]
) -> None:
    own_no = order_for(menv, "m1")["order"]["out_trade_no"]
    other_no = order_for(menv, "mx")["order"]["out_trade_no"]
    fake.pay(other_no, notify=False)  # its notification is lost
    with time_machine.travel(utcnow() + timedelta(minutes=6)), menv.ctx():
        assert query_open_orders(utcnow(), menv.settings) == {"booked": 1, "open": 1}
    with time_machine.travel(utcnow() + timedelta(minutes=121)), menv.ctx():
        assert close_stale_orders(utcnow(), menv.settings) == {"closed": 1}
    with menv.ctx():
        states = {o.out_trade_no: o.state for o in PayOrder.select()}
    assert states == {own_no: "closed", other_no: "paid"}
    assert fake.pay_order(own_no).state == "CLOSED"


def test_a_committee_without_a_merchant_keeps_reporting(menv: Env) -> None:
    del menv.settings.pay.merchants[OTHER]
    r = menv.api.post("/api/v1/dues/pay", token=menv.token("mx"), json={})
    assert r.status_code == 422 and r.json()["errcode"] == "pay_not_configured"
    assert "提交交纳报告" in r.json()["errmsg"]
    assert order_for(menv, "m1")["order"]["amount_fen"] == MONTHLY


def test_merchant_secrets_are_redacted(menv: Env, shops: dict[str, Merchant]) -> None:
    menv.settings.pay.merchants[OTHER].apiv3_key = shops[OTHER].apiv3_key
    text = repr(redacted(menv.settings))
    assert shops[OWN].apiv3_key not in text and shops[OTHER].apiv3_key not in text
    assert shops[OWN].mchid in text
