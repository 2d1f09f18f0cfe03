"""`flask --app app privacy reads [--member NAME] [--manager NAME] [--since DAY] [--until DAY]`:
the read log (查阅记录) of a committee, newest first: who opened a member's detail or
downloaded a file naming members, when, through which door."""

from __future__ import annotations

import sys
from datetime import date, datetime
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from cli.connection import connection
from handlers.errors import DomainError
from handlers.privacy.reads import Read, ReadFilter, read_log_named
from models.audit import DOOR_LABELS

privacy_cli = AppGroup("privacy", help="Members' data: the read log (查阅记录).")
DAY = click.DateTime(formats=["%Y-%m-%d"])


def _line(read: Read, tz: ZoneInfo) -> str:
    e = read.entry
    door = DOOR_LABELS.get(e.door, e.door)
    where = f"（{read.branch_name}）" if read.branch_name else ""
    what = f"{read.kind_label}：{e.subject}{where}"
    if read.member_id is None:
        what += f"，{e.members} 人"
    return f"{e.at.astimezone(tz):%Y-%m-%d %H:%M}  {e.actor_name}  {door}  {what}"


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


@privacy_cli.command("reads")
@click.option("--member", default="", help="党员姓名（或其中几个字）：谁查看过这名党员。")
@click.option("--manager", default="", help="查阅人姓名（或其中几个字）：这名管理人员查看过什么。")
@click.option("--since", type=DAY, default=None, help="起始日期（含），如 2026-01-01。")
@click.option("--until", type=DAY, default=None, help="截止日期（含），如 2026-12-31。")
@click.option("--committee", default=None, help="党委名称（只有一个党委时可省略）。")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def reads_command(
    member: str,
    manager: str,
    since: datetime | None,
    until: datetime | None,
    committee: str | None,
    limit: int,
) -> None:
    """List who looked at members' details and downloaded files naming them, newest first."""
    settings = current_app.config["ZHIBU"]
    tz = ZoneInfo(settings.app.timezone)
    wanted = ReadFilter(
        member_name=member.strip(),
        actor_name=manager.strip(),
        since=_day(since),
        until=_day(until),
    )
    with connection():
        try:
            found, page = read_log_named(committee, wanted, limit=limit, settings=settings)
        except DomainError as exc:
            click.echo(exc.message, err=True)
            sys.exit(1)
        click.echo(f"{found.name}的查阅记录：共 {page.total} 条，显示最新 {len(page.reads)} 条。")
        for read in page.reads:
            click.echo(_line(read, tz))
