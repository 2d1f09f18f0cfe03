"""`flask --app app scheduler` runs the scheduler process; `jobs` lists and runs jobs."""

from __future__ import annotations

import logging
import signal
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from core.clock import utcnow
from models.base import db
from models.jobs import JobRun

log = logging.getLogger(__name__)


@click.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduler in this process until stopped (one process per deployment)."""
    from bot.channels import check_channel_settings
    from scheduler.runner import Runner

    settings = current_app.config["ZHIBU"]
    with db.connection_context():
        for warning in check_channel_settings(settings):  # a missing setting stops here
            log.warning("%s", warning)
    runner = Runner(settings)
    sched = runner.build()

    def stop(signum: int, frame: Any) -> None:
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
    with db.connection_context():
        last = {r.job_id: r for r in JobRun.select().order_by(JobRun.started_at)}
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
@with_appcontext
def jobs_run(job_id: str) -> None:
    """Run one job now, whoever holds the lease."""
    from scheduler.runner import Runner

    runner = Runner(current_app.config["ZHIBU"])
    if job_id not in runner.specs:
        click.echo(f"unknown job {job_id!r}; jobs: {', '.join(runner.specs)}", err=True)
        sys.exit(2)
    runner.run_job(job_id, manual=True)
    with db.connection_context():
        run = JobRun.select().where(JobRun.job_id == job_id).order_by(JobRun.id.desc()).get()
    click.echo(f"{job_id}: {'ok' if run.ok else 'FAILED'} {run.detail}")
    if not run.ok:
        sys.exit(1)
