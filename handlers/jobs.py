"""The scheduler's record of job runs and its lease, as the operator reads them."""

from __future__ import annotations

from datetime import datetime

from models.jobs import JobRun
from models.wechat import SharedValue

# The shared row that names the scheduler running jobs (scheduler.lease takes and renews it).
LEASE_KEY = "scheduler:lease"


def last_runs() -> dict[str, JobRun]:
    """The latest started run of every job that has run, by job id."""
    return {r.job_id: r for r in JobRun.select().order_by(JobRun.started_at)}


def latest_run(job_id: str) -> JobRun:
    """The job's most recent run (by id); JobRun.DoesNotExist if it never ran."""
    return JobRun.select().where(JobRun.job_id == job_id).order_by(JobRun.id.desc()).get()


def current_holder(now: datetime) -> str | None:
    """Return who holds an unexpired scheduler lease, if anyone."""
    row = SharedValue.get_or_none(SharedValue.key == LEASE_KEY)
    return row.value if row is not None and row.expires_at >= now else None
