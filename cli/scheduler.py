"""`flask --app app scheduler` runs the scheduler process; `jobs` lists and runs jobs."""

from __future__ import annotations

import logging
import signal
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import current_app
from flask.cli import with_appcontext

from cli.connection import connection
from core.clock import utcnow
from handlers.jobs import last_runs, latest_run

log = logging.getLogger(__name__)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler in this process until stopped (one process per deployment)."""
    from bot.channels import check_channel_settings
    from scheduler.runner import Runner

    settings = current_app.config["ZHIBU"]
    with connection():
        for warning in check_channel_settings(settings):  # a missing setting stops here
            log.warning("%s", warning)
    runner = Runner(settings)
    sched = runner.build()

    def stop(signum: int, frame: Any) -> None:
        if sched.running:  # a second SIGTERM while it stops is not an error
            sched.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"scheduler {runner.holder}: {len(runner.specs)} jobs; Ctrl-C to stop")
    try:
        sched.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        runner.shutdown()


@click.group("jobs", invoke_without_command=True)
@click.pass_context
@with_appcontext
def jobs_command(ctx: click.Context) -> None:
    """List the jobs with their next run time and last run."""
    if ctx.invoked_subcommand is not None:
        return
    from scheduler.runner import job_specs

    settings = current_app.config["ZHIBU"]
    now = utcnow()
    with connection():
        last = last_runs()
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(settings.app.timezone)
    for spec in job_specs(settings):
        nxt = spec.trigger.get_next_fire_time(None, now)
        run = last.get(spec.id)
        done = (
            f"last {run.started_at.astimezone(tz):%m-%d %H:%M} {'ok' if run.ok else 'FAILED'}"
            if run
            else "never run"
        )
        when = spec.cron or "interval"
        click.echo(f"{spec.id:20} {when:16} next {nxt.astimezone(tz):%Y-%m-%d %H:%M}  {done}")


@jobs_command.command("run")
@click.argument("job_id")
@click.option(
    "--at",
    "at_text",
    default=None,
    help="Run as of this moment instead of now, e.g. '2026-10-10 08:00' (local time).",
)
@with_appcontext
def jobs_run(job_id: str, at_text: str | None) -> None:
    """Run one job now (or as of --at), whoever holds the lease."""
    from scheduler.runner import Runner

    settings = current_app.config["ZHIBU"]
    runner = Runner(settings)
    if job_id not in runner.specs:
        click.echo(f"unknown job {job_id!r}; jobs: {', '.join(runner.specs)}", err=True)
        sys.exit(2)
    at = None
    if at_text is not None:
        try:
            at = datetime.fromisoformat(at_text.strip())
        except ValueError:
            click.echo(f"--at {at_text!r}: expected a moment such as '2026-10-10 08:00'", err=True)
            sys.exit(2)
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo(settings.app.timezone))
    runner.run_job(job_id, now=at, manual=True)
    with connection():
        run = latest_run(job_id)
    click.echo(f"{job_id}: {'ok' if run.ok else 'FAILED'} {run.detail}")
    if not run.ok:
        sys.exit(1)
