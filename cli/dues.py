"""`flask --app app dues …`: import payments and categories, the monthly summary, the alerts,
refunds of payments made with WeChat Pay."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from flask import current_app
from flask.cli import AppGroup

from cli.connection import connection
from core.clock import utcnow
from handlers import dues as d
from handlers.errors import DomainError

dues_cli = AppGroup(
    "dues", help="Dues: import payments and categories, summary, six-month alerts."
)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


@dues_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--committee", default=None, help="只接受这个党委的党员（默认：全部）。")
def import_command(file: str, committee: str | None) -> None:
    """Import payments (姓名, 手机号, 金额, 月份, 类型, 备注); any bad row writes nothing."""
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            result = d.import_payments_file(file, committee, now=utcnow(), settings=settings)
        except (d.DuesImportError, d.UnknownCommittee) as exc:
            _fail(exc.message)
        except DomainError as exc:
            _fail(f"导入失败，未写入任何数据：{exc.message}")
    click.echo(
        f"导入完成：党费 {result.payments} 笔（{result.months} 个月），"
        f"自愿交纳 {result.voluntary} 笔，合计 {d.fen_to_text(result.total_fen)}。"
    )


@dues_cli.command("bases")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--committee", default=None, help="只接受这个党委的党员（默认：全部）。")
def bases_command(file: str, committee: str | None) -> None:
    """Import categories and bases (姓名, 手机号, 党费类别, 税后月收入, 起始月份 …)."""
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            count = d.import_assessments_file(file, committee, now=utcnow(), settings=settings)
        except (d.DuesImportError, d.UnknownCommittee) as exc:
            _fail(exc.message)
        except DomainError as exc:
            _fail(f"导入失败，未写入任何数据：{exc.message}")
    click.echo(f"导入完成：已为 {count} 名党员设置党费类别和基数。")


@dues_cli.command("summary")
@click.option("--month", "month_text", default="本月", show_default=True, help="e.g. 2026年1月.")
@click.option("--committee", default=None)
def summary_command(month_text: str, committee: str | None) -> None:
    """Print expected, collected and the rate of every branch for a month."""
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            month, rows = d.summary_named(month_text, committee, now=utcnow(), settings=settings)
        except DomainError as exc:
            _fail(exc.message)
    click.echo(f"{d.month_label(month)}党费")
    for s in rows:
        rate = "—" if s.rate is None else f"{s.rate * 100:.1f}%"
        click.echo(
            f"{s.branch_name}  应收 {d.fen_to_text(s.expected_fen)}  "
            f"已收 {d.fen_to_text(s.collected_fen)}  收缴率 {rate}  "
            f"（应交 {s.members_due} 人，已交 {s.members_paid} 人，未设置 {s.members_unset} 人）"
        )


@dues_cli.command("alerts")
@click.option("--committee", default=None)
def alerts_command(committee: str | None) -> None:
    """List members at 3, 5 or 6+ consecutive months unpaid or without attending a meeting."""
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            alerts = d.alerts_named(committee, now=utcnow(), settings=settings)
        except d.UnknownCommittee as exc:
            _fail(exc.message)
    if not alerts:
        click.echo("没有连续 3 个月以上未交党费或未参加组织生活的党员。")
    for a in alerts:
        more = "以上" if a.at_least else ""
        click.echo(
            f"{a.branch_name}  {a.member_name}  连续 {a.months} 个月{more}{a.reason_label}"
            f"（自{d.month_label(a.since)}起，达到 {a.level} 个月提醒）"
        )


@dues_cli.command("refund")
@click.option("--payment", "payment_id", type=int, default=None, help="党费记录编号（微信支付）。")
@click.option("--order", "out_trade_no", default=None, help="或：微信支付订单号（DF…）。")
@click.option("--reason", required=True, help="退款原因（会显示给党员）。")
@click.option("--amount", default=None, help="退款金额（元），默认整笔；只能整笔退款。")
def refund_command(
    payment_id: int | None, out_trade_no: str | None, reason: str, amount: str | None
) -> None:
    """Refund a payment made with WeChat Pay: the money goes back to the payer; the ledger entry
    is reversed when WeChat Pay reports the refund done."""
    from handlers.pay import PayUnavailable, refund_order

    if (payment_id is None) == (out_trade_no is None):
        _fail("请用 --payment 给出党费记录编号，或用 --order 给出微信支付订单号（二选一）。")
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            fen = None if amount is None else d.yuan_to_fen(amount)
            done = refund_order(
                None,
                reason,
                fen,
                payment_id=payment_id,
                out_trade_no=out_trade_no,
                now=utcnow(),
                settings=settings,
            )
        except (DomainError, PayUnavailable) as exc:
            _fail(exc.message)
        refund = done.refund
        click.echo(
            f"已向微信支付申请退款：{done.member.name} {d.fen_to_text(refund.amount_fen)}，"
            f"订单 {done.order.out_trade_no}，退款单号 {refund.out_refund_no}，"
            f"状态：{refund.state_label}。微信支付确认退款成功后，原入账记录自动作废。"
        )
