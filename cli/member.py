"""Flask CLI: `member leave NAME` records that a member left (转出, 去世, 出党, 停止党籍);
`member transfer NAME --to BRANCH` moves them to another branch (转接组织关系); `member return
NAME --phone … --date …` brings back one who transferred out (转回)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date
from typing import Any, NoReturn

import click
from flask import current_app
from flask.cli import AppGroup

from cli.connection import connection
from core.clock import utcnow
from handlers.errors import DomainError
from handlers.membership import REASONS, Named, leave_named, return_named, transfer_named

member_cli = AppGroup(
    "member", help="One member: leaving (离开), transfers (转接组织关系) and returns (转回)."
)

# What to add when a name is ambiguous: the options that tell the members apart.
WHICH = {
    "ambiguous_member": "请加上 --branch 支部名称，或 --phone 手机号。",
    "ambiguous_branch": "请加上 --committee 党委名称。",
}


def _fail(exc: DomainError) -> NoReturn:
    click.echo(exc.message + WHICH.get(exc.errcode, ""), err=True)
    sys.exit(1)


def _day(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        click.echo(f"{label}“{text}”不是有效日期，请写成 YYYY-MM-DD，例如 2026-12-01。", err=True)
        sys.exit(1)


def _naming(command: Callable[..., Any]) -> Callable[..., Any]:
    """The member's name and the options telling members of one name apart."""
    for option in (
        click.option("--committee", default=None, help="党委名称（同名支部在多个党委时）。"),
        click.option("--phone", default=None, help="手机号（同一支部有同名党员时）。"),
        click.option("--branch", default=None, help="党员所在支部（多个支部有同名党员时）。"),
        click.argument("name"),
    ):
        command = option(command)
    return command


@member_cli.command("leave")
@_naming
@click.option("--reason", required=True, help="离开原因：" + "、".join(REASONS.values()) + "。")
@click.option("--date", "day", required=True, help="离开日期，YYYY-MM-DD。")
def leave_command(
    name: str, branch: str | None, phone: str | None, committee: str | None, reason: str, day: str
) -> None:
    """Record that a member left: access ends, contact data and reflections are removed, no
    reminder names them again; dues, attendance and leave records stay."""
    left_on = _day(day, "离开日期")
    who = Named(name, branch, phone, committee)
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            done = leave_named(
                who, reason=reason, left_on=left_on, now=utcnow(), settings=settings
            )
        except DomainError as exc:
            _fail(exc)
        click.echo(
            f"已办理离开：{done.member.name}（{done.branch.name}），"
            f"{done.departure.reason_label}，{left_on:%Y-%m-%d}。\n"
            f"解除微信绑定 {done.bindings} 个，结束登录 {done.sessions} 个，"
            f"取消待发消息 {done.messages} 条，不再参加的会议 {done.meetings} 个，"
            f"清除学习心得 {done.reflections} 条；党费、参会、请假等记录保留。"
        )


@member_cli.command("transfer")
@_naming
@click.option("--to", "to_branch", required=True, help="转入的支部名称。")
@click.option("--date", "day", required=True, help="转接日期，YYYY-MM-DD。")
def transfer_command(
    name: str,
    branch: str | None,
    phone: str | None,
    committee: str | None,
    to_branch: str,
    day: str,
) -> None:
    """Move a member to another branch of this deployment; the move is recorded and their
    records go with them (out of the deployment: member leave --reason 转出)."""
    moved_on = _day(day, "转接日期")
    who = Named(name, branch, phone, committee)
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            done = transfer_named(
                who, to_branch, moved_on=moved_on, now=utcnow(), settings=settings
            )
        except DomainError as exc:
            _fail(exc)
        click.echo(
            f"已转接组织关系：{done.member.name}，{done.from_branch.name} → "
            f"{done.to_branch.name}（{moved_on:%Y-%m-%d}）。原支部的职务和党小组不随转。"
        )


@member_cli.command("return")
@click.argument("name")
@click.option("--branch", default=None, help="离开时所在支部（多个支部有同名党员时）。")
@click.option("--committee", default=None, help="党委名称（同名支部在多个党委时）。")
@click.option("--phone", required=True, help="转回党员现在使用的手机号。")
@click.option("--date", "day", required=True, help="转回日期，YYYY-MM-DD。")
@click.option("--status", default="正式党员", show_default=True, help="正式党员或预备党员。")
@click.option("--to", "to_branch", default=None, help="转回的支部（默认：离开时所在支部）。")
def return_command(
    name: str,
    branch: str | None,
    committee: str | None,
    phone: str,
    day: str,
    status: str,
    to_branch: str | None,
) -> None:
    """Bring back a member who transferred out (离开, 转出): on the roll again under their own
    name and records, with the number given; they bind WeChat again with a new code."""
    returned_on = _day(day, "转回日期")
    who = Named(name, branch, None, committee)
    settings = current_app.config["ZHIBU"]
    with connection():
        try:
            done = return_named(
                who,
                phone=phone,
                returned_on=returned_on,
                now=utcnow(),
                settings=settings,
                status=status,
                to_branch=to_branch,
            )
        except DomainError as exc:
            _fail(exc)
        click.echo(
            f"已办理转回：{done.member.name}（{done.member.status_label}），转回"
            f"{done.to_branch.name}（{returned_on:%Y-%m-%d}；"
            f"{done.returned.left_on:%Y-%m-%d}从{done.left_branch.name}转出）。\n"
            f"以后的会议将通知其参加 {done.meetings} 个。请为其发放绑定码重新绑定微信；"
            "职务、党小组和出生日期请在名册中重新填写。"
        )
