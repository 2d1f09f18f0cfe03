"""`flask --app app report month|roster|ledger|book … [--branch NAME | --committee NAME]`.

month: the monthly report; roster: the roster as the import reads it; ledger: the dues
ledger (党费收缴明细) of a month or a year; book: a branch's organizational-life record book
(组织生活记录本) of a year, as .docx or .pdf.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from cli.connection import connection
from core.clock import utcnow
from core.datetext import DateTextError, parse_month, parse_period
from handlers.errors import DomainError
from handlers.reports import Report, month_report_named, report_bytes, yuan
from handlers.reports.book import record_book_named
from handlers.reports.book_files import book_bytes, book_format
from handlers.reports.ledger import ledger_bytes, ledger_named
from handlers.reports.roster import roster_rows_named, write_roster

report_cli = AppGroup(
    "report",
    help="Reports and records: the monthly report, the roster, the dues ledger, the record book.",
)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _summary(report: Report) -> str:
    """One line: branches, study rate, meetings held, dues collected of expected."""
    members = sum(b.study.members for b in report.branches)
    studied = sum(b.study.participants for b in report.branches)
    held = sum(len(b.meetings) for b in report.branches)
    expected = sum(b.dues.expected_fen for b in report.branches if b.dues)
    collected = sum(b.dues.collected_fen for b in report.branches if b.dues)
    rate = f"{studied / members:.0%}" if members else "无党员"
    return (
        f"{len(report.branches)} 个支部，党员 {members} 人，学习参与率 {rate}，"
        f"召开会议 {held} 次，党费实交 {yuan(collected)} 元 / 应交 {yuan(expected)} 元。"
    )


@report_cli.command("month")
@click.argument("month_text", metavar="MONTH")
@click.option("--committee", default=None, help="党委名称（只有一个党委时可省略）。")
@click.option("--branch", default=None, help="支部名称：只生成这个支部的月报。")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="输出文件。")
def month_command(month_text: str, committee: str | None, branch: str | None, out: str) -> None:
    """Write the monthly report (.xlsx) of a branch or a committee, e.g. `report month 2026-11`."""
    settings = current_app.config["ZHIBU"]
    now = utcnow()
    try:
        year, month = parse_month(month_text, now=now, tz=ZoneInfo(settings.app.timezone))
    except DateTextError as exc:
        _fail(exc.message)
    _refuse_existing(out)
    with connection():
        try:
            report = month_report_named(
                year,
                month,
                committee_name=committee,
                branch_name=branch,
                settings=settings,
                now=now,
            )
        except DomainError as exc:
            _fail(f"未生成月报：{exc.message}")
        data = report_bytes(report)
    _write_new(out, data)
    click.echo(f"{report.name}{year}年{month}月月报已写入 {out}")
    click.echo(_summary(report))


@report_cli.command("roster")
@click.option("--committee", default=None, help="党委名称（只有一个党委时可省略）。")
@click.option("--branch", default=None, help="支部名称：只导出这个支部的名册。")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="输出文件（.xlsx 或 .csv）。",
)
@click.option(
    "--full-phones",
    is_flag=True,
    help="导出完整手机号（默认隐藏中间四位）：修改后要导回时使用，会记入查阅记录。",
)
def roster_command(committee: str | None, branch: str | None, out: str, full_phones: bool) -> None:
    """Write the roster (.xlsx or .csv) in the columns `roster import` reads; with
    --full-phones it reads back unchanged (phones are masked without it)."""
    if not out.lower().endswith((".xlsx", ".csv")):
        _fail(f"输出文件 {out} 应以 .xlsx 或 .csv 结尾。")
    _refuse_existing(out)
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            export = roster_rows_named(
                committee_name=committee,
                branch_name=branch,
                settings=settings,
                now=utcnow(),
                full_phones=full_phones,
            )
        except DomainError as exc:
            _fail(f"未导出名册：{exc.message}")
    try:
        write_roster(export, out, exclusive=True)
    except OSError as exc:
        _fail(f"无法写入文件 {out}：{exc.strerror or exc}")
    click.echo(f"{export.name}名册（{len(export.rows)} 人）已写入 {out}")
    if full_phones:
        click.echo(
            f"可用 flask --app app roster import {out} --committee {export.committee_name} 导回。"
        )
    else:
        click.echo("手机号已隐藏中间四位；要修改后导回，请加 --full-phones 重新导出。")


def _refuse_existing(out: str) -> None:
    """Stop before any work when the output file is already there (never overwritten)."""
    if os.path.exists(out):
        _fail(f"文件 {out} 已存在，未覆盖。请换一个文件名，或先删除它。")


def _write_new(out: str, data: bytes) -> None:
    try:
        with open(out, "xb") as fh:  # "x": never overwrite a file that appeared meanwhile
            fh.write(data)
    except OSError as exc:
        _fail(f"无法写入文件 {out}：{exc.strerror or exc}")


@report_cli.command("ledger")
@click.argument("period_text", metavar="MONTH|YEAR")
@click.option("--committee", default=None, help="党委名称（只有一个党委时可省略）。")
@click.option("--branch", default=None, help="支部名称：只导出这个支部的明细。")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False), help="输出文件。")
def ledger_command(period_text: str, committee: str | None, branch: str | None, out: str) -> None:
    """Write the dues ledger (.xlsx) of a month or a year, e.g. `report ledger 2026-11`."""
    settings = current_app.config["ZHIBU"]
    now = utcnow()
    try:
        year, month = parse_period(period_text, now=now, tz=ZoneInfo(settings.app.timezone))
    except DateTextError as exc:
        _fail(exc.message)
    _refuse_existing(out)
    with connection():
        try:
            report = ledger_named(
                year,
                month,
                committee_name=committee,
                branch_name=branch,
                settings=settings,
                now=now,
            )
        except DomainError as exc:
            _fail(f"未生成党费收缴明细：{exc.message}")
        data = ledger_bytes(report)
    _write_new(out, data)
    total = yuan(sum(e.amount_fen for e in report.entries))
    click.echo(f"{report.name}{report.period}党费收缴明细已写入 {out}")
    click.echo(f"共 {len(report.entries)} 笔，合计 {total} 元。")


@report_cli.command("book")
@click.argument("year", type=click.IntRange(2000, 2999), metavar="YEAR")
@click.option("--branch", required=True, help="支部名称。")
@click.option("--committee", default=None, help="党委名称（支部同名时用来区分）。")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False),
    help="输出文件（.docx 或 .pdf）。",
)
def book_command(year: int, branch: str, committee: str | None, out: str) -> None:
    """Write a branch's record book (组织生活记录本) of a year, e.g. `report book 2026`."""
    settings = current_app.config["ZHIBU"]
    try:
        fmt = book_format(os.path.splitext(out)[1] or "?")
    except DomainError as exc:
        _fail(f"输出文件 {out} 应以 .docx 或 .pdf 结尾：{exc.message}")
    _refuse_existing(out)
    with connection():
        try:
            book = record_book_named(
                year, committee_name=committee, branch_name=branch, settings=settings, now=utcnow()
            )
            data = book_bytes(book, fmt, settings)
        except DomainError as exc:
            _fail(f"未生成记录本：{exc.message}")
    _write_new(out, data)
    missing = len(book.missing_minutes)
    click.echo(f"{book.branch_name}{year}年组织生活记录本已写入 {out}")
    click.echo(
        f"共 {len(book.meetings)} 次会议；"
        + (f"{missing} 次会议缺少会议记录，见首页。" if missing else "会议记录齐全。")
    )
