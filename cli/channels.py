"""`flask --app app outbox …` and `channels …`: drain and list the outbox, set branch channels."""

from __future__ import annotations

import signal
import sys
import threading
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from cli.connection import connection
from core.clock import utcnow
from handlers import outbox
from handlers.errors import DomainError
from models.outbox import GROUP_KINDS, STATUSES, BranchChannel

outbox_cli = AppGroup("outbox", help="The outbox: send pending messages, list messages.")
channels_cli = AppGroup("channels", help="Branch group channels and members' WeCom accounts.")


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


@outbox_cli.command("drain")
@click.option("--max-seconds", type=float, default=None, help="Default: outbox.drain_max_seconds.")
@click.option(
    "--forever",
    is_flag=True,
    help="Drain again every scheduler.outbox_drain_seconds until SIGTERM or SIGINT "
    "(a drain process of its own, beside the scheduler's).",
)
def drain_command(max_seconds: float | None, forever: bool) -> None:
    """Send due messages now (the scheduler does this every few seconds)."""
    from bot.channels import ADAPTERS

    settings = current_app.config["ZHIBU"]
    stop = threading.Event()
    if forever:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    while True:
        with connection():
            report = outbox.drain(settings, ADAPTERS, max_seconds=max_seconds)
        busy = report.sent + report.failed + report.dead > 0  # more may be waiting: go on
        if busy or report.deferred or report.skipped or not forever:
            click.echo(str(report))
        if not forever or stop.wait(0 if busy else settings.scheduler.outbox_drain_seconds):
            return


@outbox_cli.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--branch", "branch_name", default=None)
@click.option("--limit", type=int, default=50, show_default=True)
def list_command(status: str | None, branch_name: str | None, limit: int) -> None:
    """List outbox messages, newest first."""
    tz = ZoneInfo(current_app.config["ZHIBU"].app.timezone)
    with connection():
        try:
            rows = outbox.outbox_messages(status, branch_name, limit)
        except DomainError as exc:
            _fail(exc.message)
    if not rows:
        click.echo("（没有消息）")
    for row in rows:
        when = row.sent_at if row.status == "sent" else row.next_attempt_at
        stamp = when.astimezone(tz).strftime("%m-%d %H:%M:%S") if when else "-"
        channel = row.channel or "-"
        click.echo(
            f"#{row.id} {row.status:8} {row.kind} {row.target_type}:{row.target_id} "
            f"{row.period} via {channel} attempts {row.attempts} {stamp}"
            + (f"  {row.last_error}" if row.last_error else "")
        )


@channels_cli.command("set")
@click.option("--branch", "branch_name", required=True, help="Branch name, e.g. 第一党支部.")
@click.option("--robot-key", default=None, help="WeCom group-robot key ('-': read from stdin).")
@click.option("--appchat", "chat_id", default=None, help="WeCom app chat id ('-': stdin).")
@click.option("--console", is_flag=True, help="Write the branch's messages to the log (demo).")
@click.option("--mention/--no-mention", default=None, help="@-mention members named in messages.")
@click.option("--nudge/--no-nudge", default=None, help="Evening nudge to members not checked in.")
@click.option("--volunteer/--no-volunteer", default=None, help="Saturday volunteer prompt.")
def set_command(
    branch_name: str,
    robot_key: str | None,
    chat_id: str | None,
    console: bool,
    mention: bool | None,
    nudge: bool | None,
    volunteer: bool | None,
) -> None:
    """Set a branch's group channel: a robot key, an app chat id, or the console."""
    chosen = [k for k, v in (("wecom_robot", robot_key), ("wecom_appchat", chat_id)) if v]
    if console:
        chosen.append("console")

    def choose(current: BranchChannel | None) -> tuple[str, str]:
        if len(chosen) > 1:
            _fail("--robot-key、--appchat、--console 只能选一个。")
        if not chosen:
            if current is None:
                _fail("请用 --robot-key、--appchat 或 --console 指定群通知渠道。")
            return current.kind, current.target
        target = robot_key or chat_id or ""
        return chosen[0], sys.stdin.readline().strip() if target == "-" else target

    with connection():
        try:
            channel = outbox.set_channel_of_branch(
                branch_name,
                choose,
                utcnow(),
                mention=mention,
                nudge_enabled=nudge,
                volunteer_enabled=volunteer,
            )
        except DomainError as exc:
            _fail(exc.message)
        except ValueError as exc:
            _fail(f"设置失败：{exc}")
    click.echo(f"{branch_name}：{_describe(channel)}")


def _describe(channel: BranchChannel) -> str:
    target = f" {channel.masked}" if channel.target else ""
    flags = [
        f"@提醒{'开' if channel.mention else '关'}",
        f"晚间督促{'开' if channel.nudge_enabled else '关'}",
        f"志愿服务提醒{'开' if channel.volunteer_enabled else '关'}",
    ]
    return f"{GROUP_KINDS.get(channel.kind, channel.kind)}{target}（{'，'.join(flags)}）"


@channels_cli.command("show")
@click.option("--branch", "branch_name", default=None)
def show_command(branch_name: str | None) -> None:
    """Show branches' group channels (keys and chat ids masked)."""
    with connection():
        try:
            rows = outbox.group_channels(branch_name)
        except DomainError as exc:
            _fail(exc.message)
    for branch, channel in rows:
        click.echo(f"{branch.name}：{_describe(channel) if channel else '未设置'}")


@channels_cli.command("wecom-user")
@click.option("--phone", required=True, help="The member's mobile number in the roster.")
@click.option("--userid", default=None, help="WeCom userid; omit to clear it.")
def wecom_user_command(phone: str, userid: str | None) -> None:
    """Record a member's WeCom userid (personal messages and @-mentions use it)."""
    with connection():
        try:
            account = outbox.set_wecom_userid_by_phone(
                phone, (userid or "").strip() or None, utcnow()
            )
        except DomainError as exc:
            _fail(exc.message)
    click.echo(f"{account.member_name}：企业微信账号 {account.wecom_userid or '（已清除）'}")
