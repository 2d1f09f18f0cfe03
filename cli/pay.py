"""`flask --app app pay …`: reconcile a day's WeChat Pay trade bill; and `simulate-pay`, which
pays an order as a member would against the running demo and its fake WeChat Pay."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

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
