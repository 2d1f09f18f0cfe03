"""`flask --app app pay …`: reconcile a day's WeChat Pay trade bill; and `simulate-pay`, which
pays an order as a member would against the running demo and its fake WeChat Pay."""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from cli.connection import connection
from core.clock import local_day, utcnow
from handlers.dues import fen_to_text
from handlers.errors import DomainError

pay_cli = AppGroup("pay", help="WeChat Pay: reconcile a day's trade bill against the ledger.")


@pay_cli.command("reconcile")
@click.option("--day", "day_text", default=None, help="YYYY-MM-DD (default: yesterday).")
def reconcile_command(day_text: str | None) -> None:
    """Download the day's trade bill and match every line to the ledger; print the result."""
    from handlers.pay import reconcile_day

    settings = current_app.config["ZHIBU"]
    now = utcnow()
    try:
        day = (
            date.fromisoformat(day_text)
            if day_text
            else local_day(now, ZoneInfo(settings.app.timezone)) - timedelta(days=1)
        )
    except ValueError:
        click.echo(f"日期格式不对：{day_text}，请写成 2026-11-30。", err=True)
        sys.exit(2)
    with connection():
        try:
            done = reconcile_day(day, now=now, settings=settings)
        except DomainError as exc:
            click.echo(exc.message, err=True)
            sys.exit(1)
        click.echo(
            f"{day.isoformat()} 微信支付对账："
            f"收款 {done.payments} 笔 {fen_to_text(done.bill_fen)}，"
            f"退款 {done.refunds} 笔 {fen_to_text(done.refunded_fen)}，对上 {done.matched} 笔；"
            f"新差异 {len(done.new)} 处，此前差异已对上 {done.resolved} 处。"
        )
        for diff in done.open:
            new = "（新）" if diff in done.new else ""
            click.echo(f"  {diff.kind_label}{new} {diff.ref}：{diff.detail}")
        if not done.open:
            click.echo("  账单与党费账目一致。")


# How often, and how long apart, simulate-pay looks for the booked payment.
POLLS, POLL_SECONDS = 50, 0.2


@click.command("simulate-pay")
@with_appcontext
@click.option("--openid", default="demo-mini-01", show_default=True, help="Mini-program openid.")
@click.option("--months", "months_text", default=None, help="YYYY-MM,… (default: every owed).")
@click.option("--api", "api_url", default=None, help="API root (default: the demo's /api/v1).")
@click.option("--fake", "fake_url", default=None, help="Fake WeChat (default: the demo's).")
def simulate_pay(
    openid: str, months_text: str | None, api_url: str | None, fake_url: str | None
) -> None:
    """Pay dues with WeChat Pay as a member would, against the running demo and its fake.

    Logs in (the fake plays wx.login), creates the order (POST /api/v1/dues/pay), pays it at
    the fake WeChat Pay (which then sends the signed, encrypted notification to /pay/notify),
    waits for the payment to be booked and prints the ledger's answer."""
    import requests

    demo = current_app.config["ZHIBU"].demo
    fake_url = (fake_url or f"http://{demo.host}:{demo.fake_wechat_port}").rstrip("/")
    api_url = (api_url or f"http://{demo.host}:{demo.port}/api/v1").rstrip("/")
    months = [m.strip() for m in months_text.split(",") if m.strip()] if months_text else None
    try:
        token = _login(requests, fake_url, api_url, openid)
        auth = {"Authorization": f"Bearer {token}"}
        body = {} if months is None else {"months": months}
        made = requests.post(f"{api_url}/dues/pay", json=body, headers=auth, timeout=15)
        if made.status_code not in (200, 201):
            _stop(f"下单未成功（HTTP {made.status_code}）：{made.json().get('errmsg', made.text)}")
        order = made.json()["order"]
        click.echo(
            f"订单 {order['out_trade_no']}：{order['amount_text']}，"
            f"{'、'.join(m['month'] for m in order['months'])}（金额由服务器计算）"
        )
        paid = requests.post(
            f"{fake_url}/fake/pay", params={"out_trade_no": order["out_trade_no"]}, timeout=10
        ).json()
        if paid.get("errcode"):
            _stop(f"模拟支付未成功：{paid.get('errmsg')}")
        click.echo(f"已在模拟微信支付付款，微信支付单号 {paid['transaction_id']}；等待支付通知…")
        entry = _booked(requests, api_url, auth, paid["transaction_id"])
    except (requests.RequestException, ValueError, KeyError) as exc:
        _stop(f"cannot reach the demo: {exc} (is `make demo` running?)")
    if entry is None:
        _stop("等待超时：支付通知尚未入账（定时任务 pay_query 会补查），请稍后用 dues/me 查看。")
    click.echo(
        f"已入账：记录编号 {entry['id']}，{entry['amount_text']}，"
        f"来源 {entry['source_label']}，备注 {entry['note']}"
    )


def _stop(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _login(requests: Any, fake_url: str, api_url: str, openid: str) -> str:
    code = requests.post(f"{fake_url}/fake/js_code", params={"openid": openid}, timeout=5)
    answer = requests.post(f"{api_url}/login", json={"code": code.json()["code"]}, timeout=10)
    body = answer.json()
    if answer.status_code != 200 or not body.get("bound"):
        _stop(f"{openid} 尚未绑定党员，不能交党费：{body.get('errmsg', '请先绑定')}")
    return body["token"]


def _booked(requests: Any, api_url: str, auth: dict[str, str], transaction_id: str) -> Any:
    """The ledger entry of the transaction once the notification booked it (None: not yet)."""
    for _ in range(POLLS):
        mine = requests.get(f"{api_url}/dues/me", headers=auth, timeout=10).json()
        for entry in mine.get("recent", []):
            if transaction_id in (entry.get("note") or ""):
                return entry
        time.sleep(POLL_SECONDS)
    return None
