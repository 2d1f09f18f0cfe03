"""The scheduler's record of job runs, as the operator reads it."""

from __future__ import annotations

from models.jobs import JobRun


def last_runs() -> dict[str, JobRun]:
    """The latest started run of every job that has run, by job id."""
    return {r.job_id: r for r in JobRun.select().order_by(JobRun.started_at)}


def latest_run(job_id: str) -> JobRun:
    """The job's most recent run (by id); JobRun.DoesNotExist if it never ran."""
    return JobRun.select().where(JobRun.job_id == job_id).order_by(JobRun.id.desc()).get()
