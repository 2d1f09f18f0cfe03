"""The fake WeChat Pay API v3 over real HTTP, with real signatures and real AES-GCM: what the
app's client and notification checks are tested against must behave like WeChat Pay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.fake import FakeClock, FakeWeChat
from bot.fake.pay import NOTIFY_RETRY_SECONDS
from core import wxpay
from tests.support.pay import Merchant, merchant

NOTIFY = "http://127.0.0.1:9/pay/notify"  # the discard port: nothing answers


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(float(int(time.time())))


@pytest.fixture
def fake(clock: FakeClock) -> Iterator[FakeWeChat]:
    with FakeWeChat(clock=clock) as server:
        yield server


@pytest.fixture
def shop(fake: FakeWeChat, tmp_path: Path) -> Merchant:
    return merchant(fake, tmp_path / "keys")


def prepay(client: wxpay.PayClient, shop: Merchant, no: str = "DF0001", total: int = 12000) -> str:
    return client.jsapi(shop.appid, no, "党费", total, "mini-m1", NOTIFY)


def test_prepay_is_idempotent_for_the_same_order_and_refuses_another(
    fake: FakeWeChat, shop: Merchant
) -> None:
    client = shop.client(fake)
    first = prepay(client, shop)
    assert first.startswith("wx")
    assert prepay(client, shop) == first
    with pytest.raises(wxpay.PayApiError) as refused:
        prepay(client, shop, total=12001)
    assert (refused.value.status, refused.value.code) == (403, "OUT_TRADE_NO_USED")
    with pytest.raises(wxpay.PayApiError) as wrong_app:
        client.jsapi("wxotherapp", "DF0002", "党费", 100, "mini-m1", NOTIFY)
    assert wrong_app.value.code == "APPID_MCHID_NOT_MATCH"


def test_requests_signed_with_another_key_or_too_old_are_refused(
    fake: FakeWeChat, shop: Merchant, clock: FakeClock
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = shop.client(fake, key=other)
    with pytest.raises(wxpay.PayApiError) as bad:
        prepay(forged, shop)
    assert (bad.value.status, bad.value.code) == (401, "SIGN_ERROR")
    with time_machine.travel(clock.now() - 301, tick=False):  # the merchant's clock is slow
        with pytest.raises(wxpay.PayApiError) as stale:
            shop.client(fake).query("DF0001")
    assert (stale.value.status, stale.value.code) == (401, "SIGN_ERROR")
    unsigned = requests.get(f"{fake.base_url}/v3/pay/transactions/out-trade-no/DF0001", timeout=5)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "SIGN_ERROR")
    assert fake.pay_order("DF0001") is None


def test_answers_are_signed_with_the_platform_key(fake: FakeWeChat, shop: Merchant) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = shop.client(fake, platform_pem=wxpay.public_pem(other))
    with pytest.raises(wxpay.PayApiError) as refused:
        prepay(client, shop)
    assert refused.value.code == "BAD_SIGNATURE"


def test_query_pay_close_and_refund(fake: FakeWeChat, shop: Merchant) -> None:
    client = shop.client(fake)
    prepay(client, shop, "DF0001")
    prepay(client, shop, "DF0002", 2400)
    assert client.query("DF0001")["trade_state"] == "NOTPAY"
    transaction_id = fake.pay("DF0001", notify=False)
    paid = client.query("DF0001")
    assert paid["trade_state"] == "SUCCESS"
    assert paid["transaction_id"] == transaction_id
    assert paid["amount"] == {
        "total": 12000, "currency": "CNY", "payer_total": 12000, "payer_currency": "CNY"
    }  # fmt: skip
    with pytest.raises(wxpay.PayApiError) as orderpaid:
        client.close("DF0001")
    assert (orderpaid.value.status, orderpaid.value.code) == (400, "ORDERPAID")
    client.close("DF0002")
    assert client.query("DF0002")["trade_state"] == "CLOSED"
    with pytest.raises(wxpay.PayApiError) as missing:
        client.query("DF9999")
    assert (missing.value.status, missing.value.code) == (404, "ORDER_NOT_EXIST")
    refund = {
        "out_trade_no": "DF0001",
        "out_refund_no": "RF0001",
        "reason": "重复缴费",
        "notify_url": NOTIFY,
        "amount": {"refund": 12000, "total": 12000, "currency": "CNY"},
    }
    assert client.refund(refund)["status"] == "PROCESSING"
    assert client.refund(refund)["out_refund_no"] == "RF0001"  # the same refund again
    refund["out_refund_no"] = "RF0002"
    with pytest.raises(wxpay.PayApiError) as twice:
        client.refund(refund)
    assert twice.value.code == "NOT_ENOUGH"
    assert client.query("DF0001")["trade_state"] == "REFUND"


def test_a_notification_verifies_and_decrypts_with_the_merchant_keys(
    fake: FakeWeChat, shop: Merchant
) -> None:
    prepay(shop.client(fake), shop)
    transaction_id = fake.pay("DF0001", notify=False)
    headers, body = fake.notification("DF0001")
    client = shop.client(fake)
    now = fake.clock.now()
    envelope = client.notification(headers, body, now=now)
    assert envelope["event_type"] == "TRANSACTION.SUCCESS"
    data = envelope["resource"]
    assert (data["transaction_id"], data["amount"]["total"]) == (transaction_id, 12000)
    assert (data["mchid"], data["appid"], data["trade_state"]) == (
        shop.mchid, shop.appid, "SUCCESS"
    )  # fmt: skip
    tampered = body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.FAILED")
    with pytest.raises(wxpay.PayProtocolError):
        client.notification(headers, tampered, now=now)
    with pytest.raises(wxpay.PayProtocolError):
        client.notification(headers, body, now=now + 301)
    other = Merchant(**{**shop.__dict__, "apiv3_key": "0" * 32})
    with pytest.raises(wxpay.PayProtocolError):
        other.client(fake).notification(headers, body, now=now)


def test_an_unanswered_notification_is_sent_again_on_wechats_schedule(
    fake: FakeWeChat, shop: Merchant, clock: FakeClock
) -> None:
    prepay(shop.client(fake), shop)
    fake.pay("DF0001", notify=False)
    assert fake.notify("DF0001") == 0  # nobody listens
    assert fake.redeliver_due() == 0
    for delay in NOTIFY_RETRY_SECONDS[:3]:
        clock.advance(delay - 1)
        assert fake.redeliver_due() == 0
        clock.advance(1)
        assert fake.redeliver_due() == 1
    assert fake.deliveries[0].attempts == 4
    assert sum(NOTIFY_RETRY_SECONDS) == 24 * 3600 + 4 * 60


def test_the_trade_bill_lists_the_days_payments_and_refunds(
    fake: FakeWeChat, shop: Merchant, clock: FakeClock
) -> None:
    client = shop.client(fake)
    prepay(client, shop, "DF0001", 12000)
    prepay(client, shop, "DF0002", 2400)
    fake.pay("DF0001", notify=False)
    day = time.strftime("%Y-%m-%d", time.gmtime(clock.now() + 8 * 3600))
    with pytest.raises(wxpay.PayApiError) as early:
        client.trade_bill(day)
    assert early.value.code == "NO_STATEMENT_EXIST"
    clock.advance(86400)
    with time_machine.travel(clock.now(), tick=False):  # the merchant's clock, a day later
        bill = client.trade_bill(day).splitlines()
    assert bill[0].startswith("交易时间,公众账号ID,商户号")
    assert len(bill) == 4  # header, one payment, summary header, summary
    assert "`DF0001" in bill[1].split(",")
    assert "`120.00" in bill[1].split(",")
    assert bill[3].split(",")[:2] == ["`1", "`120.00"]
