"""The demo's WeChat Pay: throwaway merchant keys made at start-up and known to the fake, and
`simulate-pay` driving the whole flow over HTTP — log in, order, pay at the fake, the signed
notification booked — then the console's orders page showing it to the branch's collectors."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from bot.fake import FakeWeChat
from cli.demo import demo_pay
from models.dues import DuesPayment
from models.pay import PayOrder
from tests import factories as f
from tests.support.console import login


def test_simulate_pay_against_a_demo_merchant(
    make_env: Any, fake: FakeWeChat, tmp_path: Path
) -> None:
    env = make_env()
    with env.ctx():
        f.assess(env.people["m1"], base_fen=800000, from_month=date(2026, 1, 1))
    overrides = demo_pay(env.settings, fake, tmp_path / "instance" / "pay")
    key = tmp_path / "instance" / "pay" / "apiclient_key.pem"
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert key.stat().st_mode & 0o077 == 0  # the merchant key is the owner's alone
    assert overrides["ZHIBU_PAY__PRIVATE_KEY_PATH"] == str(key)
    assert overrides["ZHIBU_PAY__BASE_URL"] == fake.base_url
    assert env.settings.pay.notify_url.endswith("/pay/notify")
    env.settings.pay.notify_url = env.server.url + "/pay/notify"  # this test's server
    runner = env.app.test_cli_runner()
    where = ["--api", env.server.url + "/api/v1", "--fake", fake.base_url]
    out = runner.invoke(
        args=["simulate-pay", "--openid", "mini-m1", "--months", "2026-01,2026-02", *where]
    )
    assert out.exit_code == 0, out.output
    assert "240.00元，2026-01、2026-02（金额由服务器计算）" in out.output
    assert "已入账：记录编号" in out.output and "来源 微信支付" in out.output
    with env.ctx():
        [payment] = DuesPayment.select()
        order = PayOrder.get()
    assert (payment.source, payment.amount_fen, order.state) == ("wxpay", 24000, "paid")
    assert order.transaction_id in out.output
    # A member who owes nothing more for those months is told so, in words.
    again = runner.invoke(
        args=["simulate-pay", "--openid", "mini-m1", "--months", "2026-01", *where]
    )
    assert again.exit_code == 1 and "下单未成功（HTTP 409）" in again.output
    stranger = runner.invoke(args=["simulate-pay", "--openid", "mini-nobody", *where])
    assert stranger.exit_code == 1 and "尚未绑定党员" in stranger.output
    # The collectors see the order on the console: state, months, amount, transaction id.
    page = login(env.app, env.people["sec"]).get(
        f"/console/branch/{env.branches['A'].id}/dues/orders"
    )
    assert page.status_code == 200
    for shown in (order.out_trade_no, order.transaction_id, "2026年1-2月", "240.00元", "已支付"):
        assert shown in page.text, shown
