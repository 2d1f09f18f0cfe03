"""`flask --app app meetings …`: schedule, list, report, and make sign-in QR codes."""

from __future__ import annotations

import sys
from typing import NoReturn
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import AppGroup

from cli.connection import connection
from core.clock import utcnow
from handlers import meetings as m
from handlers.errors import DomainError
from models.meetings import KINDS
from scheduler.jobs import meeting_qr_codes

meetings_cli = AppGroup("meetings", help="Meetings: schedule, list, report, QR codes.")


def _fail(message: str) -> NoReturn:
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
    with connection():
        try:
            arranged = m.schedule_by_names(
                branch_name,
                group_name,
                kind=kind,
                when_text=when_text,
                place=place,
                title=title,
                now=utcnow(),
                settings=settings,
            )
        except DomainError as exc:
            _fail(exc.message)
        described = m.describe(arranged.meeting, ZoneInfo(settings.app.timezone))
        click.echo(f"已安排：{described}（{arranged.understood}）")


@meetings_cli.command("list")
@click.option("--branch", "branch_name", default=None)
def list_meetings(branch_name: str | None) -> None:
    """List meetings that have not ended, soonest first."""
    settings = current_app.config["ZHIBU"]
    tz = ZoneInfo(settings.app.timezone)
    with connection():
        for meeting in m.scheduled_ahead(branch_name, utcnow()):
            qr = "QR ✓" if meeting.qr_ticket else "QR –"
            click.echo(f"{meeting.branch.name}  {m.describe(meeting, tz)}  {qr}")


@meetings_cli.command("qr")
def qr_codes() -> None:
    """Create sign-in QR codes for meetings starting within 24 hours (a scheduler job too)."""
    settings = current_app.config["ZHIBU"]
    with connection():
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
    changes = {k: v for k, v in fields.items() if v is not None}
    if not when_text and not changes:
        _fail("没有要修改的内容：请给出 --when、--place、--title 等选项。")
    with connection():
        try:
            meeting = m.edit_by_operator(
                meeting_id, when_text, changes, now=utcnow(), settings=settings
            )
        except DomainError as exc:
            _fail(exc.message)
    click.echo(f"已修改：{m.describe(meeting, tz)}")


@meetings_cli.command("cancel")
@click.argument("meeting_id", type=int)
def cancel(meeting_id: int) -> None:
    """Cancel a meeting; attendance already recorded stays for the record."""
    tz = ZoneInfo(current_app.config["ZHIBU"].app.timezone)
    with connection():
        try:
            meeting = m.cancel_by_operator(meeting_id, now=utcnow(), tz=tz)
        except DomainError as exc:
            _fail(exc.message)
    click.echo(f"已取消：{m.describe(meeting, tz)}")
