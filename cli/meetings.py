"""`flask --app app meetings …`: schedule, list, report, and make sign-in QR codes."""

from __future__ import annotations

import sys
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from core.clock import utcnow
from core.datetext import DateTextError, parse_when
from handlers import meetings as m
from handlers.errors import DomainError
from models.base import db, write_tx
from models.meetings import KINDS, Meeting
from models.org import Branch, PartyGroup
from scheduler.jobs import meeting_qr_codes

meetings_cli = AppGroup("meetings", help="Meetings: schedule, list, report, QR codes.")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


@meetings_cli.command("create")
@click.option("--branch", "branch_name", required=True, help="Branch name, e.g. 第一党支部.")
@click.option("--kind", type=click.Choice(sorted(KINDS)), required=True)
@click.option("--when", "when_text", required=True, help="e.g. '12月3日 15:00-16:30'.")
@click.option("--place", default="")
@click.option("--title", default="")
@click.option("--group", "group_name", default=None, help="Party group, for --kind group.")
def create(
    branch_name: str, kind: str, when_text: str, place: str, title: str, group_name: str | None
) -> None:
    """Schedule a meeting as the server operator."""
    settings = current_app.config["ZHIBU"]
    tz = ZoneInfo(settings.app.timezone)
    now = utcnow()
    with db.connection_context():
        branches = list(Branch.select().where(Branch.name == branch_name))
        if len(branches) != 1:
            _fail(f"找不到唯一名为“{branch_name}”的支部（找到 {len(branches)} 个）。")
        group = None
        if group_name:
            group = PartyGroup.get_or_none(
                (PartyGroup.branch == branches[0].id) & (PartyGroup.name == group_name)
            )
            if group is None:
                _fail(f"{branch_name}没有名为“{group_name}”的党小组。")
        try:
            when = parse_when(
                when_text,
                now=now,
                tz=tz,
                default_minutes=settings.meetings.default_duration_minutes,
            )
            with write_tx():
                meeting = m.create_meeting(
                    None,
                    kind=kind,
                    start=when.start,
                    end=when.end,
                    place=place,
                    title=title,
                    branch=branches[0],
                    group=group,
                    now=now,
                    settings=settings,
                )
        except (DateTextError, DomainError) as exc:
            _fail(exc.message)
        click.echo(f"已安排：{m.describe(meeting, tz)}（{when.understood}）")


@meetings_cli.command("list")
@click.option("--branch", "branch_name", default=None)
def list_meetings(branch_name: str | None) -> None:
    """List meetings that have not ended, soonest first."""
    settings = current_app.config["ZHIBU"]
    tz = ZoneInfo(settings.app.timezone)
    with db.connection_context():
        query = (
            Meeting.select(Meeting, Branch)
            .join(Branch)
            .where(Meeting.ends_at > utcnow(), Meeting.status == "scheduled")
        )
        if branch_name:
            query = query.where(Branch.name == branch_name)
        for meeting in query.order_by(Meeting.starts_at):
            qr = "QR ✓" if meeting.qr_ticket else "QR –"
            click.echo(f"{meeting.branch.name}  {m.describe(meeting, tz)}  {qr}")


@meetings_cli.command("qr")
def qr_codes() -> None:
    """Create sign-in QR codes for meetings starting within 24 hours (a scheduler job too)."""
    settings = current_app.config["ZHIBU"]
    with db.connection_context():
        pending = len(m.meetings_needing_qr(utcnow(), settings))
        failures = meeting_qr_codes(settings)
    click.echo(f"QR codes made: {pending - len(failures)}, failed: {len(failures)}")
    for meeting, error in failures:
        click.echo(f"  meeting {meeting.id}: {error}", err=True)
    if failures:
        sys.exit(1)


@meetings_cli.command("edit")
@click.argument("meeting_id", type=int)
@click.option("--when", "when_text", default=None, help="New time, e.g. '12月4日 15:00'.")
@click.option("--place", default=None)
@click.option("--title", default=None)
@click.option("--host", default=None, help="Name of the member who chairs.")
@click.option("--recorder", default=None, help="Name of the member who keeps the minutes.")
@click.option("--minutes", default=None, help="The minutes (纪要).")
@click.option("--decisions", default=None, help="The decisions (决议).")
def edit(meeting_id: int, when_text: str | None, **fields: str | None) -> None:
    """Change a meeting as the server operator; attendance already recorded stays."""
    settings = current_app.config["ZHIBU"]
    tz = ZoneInfo(settings.app.timezone)
    now = utcnow()
    changes = {k: v for k, v in fields.items() if v is not None}
    with db.connection_context():
        try:
            if when_text:
                when = parse_when(when_text, now=now, tz=tz)
                changes.update(start=when.start, end=when.end)
            if not changes:
                _fail("没有要修改的内容：请给出 --when、--place、--title 等选项。")
            with write_tx():
                meeting = m.edit_meeting(None, meeting_id, now=now, settings=settings, **changes)
        except (DateTextError, DomainError) as exc:
            _fail(exc.message)
    click.echo(f"已修改：{m.describe(meeting, tz)}")


@meetings_cli.command("cancel")
@click.argument("meeting_id", type=int)
def cancel(meeting_id: int) -> None:
    """Cancel a meeting; attendance already recorded stays for the record."""
    tz = ZoneInfo(current_app.config["ZHIBU"].app.timezone)
    with db.connection_context():
        try:
            with write_tx():
                meeting = m.cancel_meeting(None, meeting_id, now=utcnow())
        except DomainError as exc:
            _fail(exc.message)
    click.echo(f"已取消：{m.describe(meeting, tz)}")
