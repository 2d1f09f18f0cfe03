"""The scheduler process: one BlockingScheduler, a database lease, one run per job and tick.

Web workers never build this; `flask --app app scheduler` does, in its own process. Every run
goes through `Runner.run_job`, which (1) checks this process holds the lease, (2) inserts the
(job, tick) row that makes a second run of the same tick impossible, (3) runs the job in its
own database connection, and (4) records the outcome. Jobs only write outbox rows keyed by
period, so even a run repeated by hand sends nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from peewee import IntegrityError

from core.clock import UTC, utcnow
from core.config import Settings
from core.doors import through
from core.metrics import JOB_RUNS, JOB_SECONDS
from models.base import db, write_tx
from models.jobs import JobRun
from scheduler import lease

log = logging.getLogger(__name__)

JobFunc = Callable[[Settings, datetime], Any]


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: JobFunc
    trigger: BaseTrigger
    cron: str = ""  # empty for interval jobs, which have no ticks to catch up


def job_specs(settings: Settings) -> list[JobSpec]:
    """Every job with its trigger from [scheduler], in the configured time zone."""
    from scheduler.jobs import CRON_JOBS, INTERVAL_JOBS

    tz = ZoneInfo(settings.app.timezone)
    conf = settings.scheduler
    crons = {job_id: getattr(conf, job_id) for job_id in CRON_JOBS}
    specs = [
        JobSpec(job_id, func, CronTrigger.from_crontab(crons[job_id], timezone=tz), crons[job_id])
        for job_id, func in CRON_JOBS.items()
    ]
    specs += [
        JobSpec(job_id, func, IntervalTrigger(seconds=getattr(conf, key), timezone=tz))
        for job_id, (key, func) in INTERVAL_JOBS.items()
    ]
    return specs


def last_due(trigger: BaseTrigger, now: datetime, since: datetime) -> datetime | None:
    """Return the latest fire time of the trigger in (since, now], or None."""
    due = None
    fire = trigger.get_next_fire_time(None, since + timedelta(seconds=1))
    while fire is not None and fire <= now:
        due = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return due


class Runner:
    """Run jobs for one process, holding the lease, one run per (job, tick)."""

    def __init__(self, settings: Settings, holder: str | None = None) -> None:
        self.settings = settings
        self.holder = holder or lease.holder_id()
        self.specs = {spec.id: spec for spec in job_specs(settings)}
        self.has_lease = False

    # ---- the lease ------------------------------------------------------------------------

    def renew(self, now: datetime | None = None) -> bool:
        """Take or keep the lease; on first taking it, catch up on missed ticks."""
        now = now or utcnow()
        with db.connection_context():
            held = lease.acquire(self.holder, now, self.settings.scheduler.lease_seconds)
        if held and not self.has_lease:
            log.info("scheduler %s holds the lease: running jobs", self.holder)
            self.has_lease = True
            self.catch_up(now)
        elif not held and self.has_lease:
            log.warning("scheduler %s lost the lease: standing by", self.holder)
            self.has_lease = False
        return held

    # ---- running --------------------------------------------------------------------------

    def tick_of(self, spec: JobSpec, now: datetime) -> str:
        """Name the tick a run belongs to: the cron due time at or before now."""
        if not spec.cron:
            return "interval:" + now.astimezone(UTC).isoformat(timespec="seconds")
        due = last_due(spec.trigger, now, now - timedelta(days=8)) or now
        return due.astimezone(UTC).isoformat(timespec="seconds")

    def run_job(
        self,
        job_id: str,
        *,
        now: datetime | None = None,
        tick: str | None = None,
        manual: bool = False,
    ) -> bool:
        """Run one job if this process may; True if it ran (whatever its outcome)."""
        spec = self.specs[job_id]
        now = now or utcnow()
        if not manual and not self.renew(now):
            return False
        tick = tick or (
            "manual:" + now.isoformat(timespec="seconds") if manual else self.tick_of(spec, now)
        )
        with db.connection_context():
            try:
                with write_tx():
                    run = JobRun.create(
                        job_id=job_id, tick=tick, holder=self.holder, started_at=now
                    )
            except IntegrityError:
                log.info("job %s tick %s already ran; skipped", job_id, tick)
                JOB_RUNS.labels(job_id, "skipped").inc()
                return False
            started = time.perf_counter()
            try:
                with through("job"):
                    result = spec.func(self.settings, now)
                run.ok, run.detail = True, _summary(result)
            except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
                log.exception("job %s failed", job_id)
                run.ok, run.detail = False, f"{type(exc).__name__}: {exc}"[:1000]
            JOB_RUNS.labels(job_id, "ok" if run.ok else "failed").inc()
            JOB_SECONDS.labels(job_id).observe(time.perf_counter() - started)
            run.finished_at = utcnow()
            with write_tx():
                run.save()
        return True

    def catch_up(self, now: datetime) -> list[str]:
        """Run once each cron job whose last due time passed unrun while no one held the lease."""
        window = timedelta(hours=self.settings.scheduler.catch_up_hours)
        ran = []
        with db.connection_context():
            last_ticks = {
                row.job_id: row.started_at
                for row in JobRun.select(JobRun.job_id, JobRun.started_at)
                .where(~JobRun.tick.startswith("manual:"))
                .order_by(JobRun.started_at)
            }
        for spec in self.specs.values():
            if not spec.cron or spec.id not in last_ticks:
                continue  # interval jobs and jobs that never ran have nothing to catch up
            due = last_due(spec.trigger, now, max(last_ticks[spec.id], now - window))
            if due is not None and self.run_job(
                spec.id, now=now, tick=due.astimezone(UTC).isoformat(timespec="seconds")
            ):
                log.info("caught up on %s (due %s)", spec.id, due.isoformat())
                ran.append(spec.id)
        return ran

    # ---- the APScheduler side -------------------------------------------------------------

    def build(self, scheduler: BaseScheduler | None = None) -> BaseScheduler:
        """Add every job (explicit ids, coalesced, one instance) and the lease renewal."""
        scheduler = scheduler or BlockingScheduler(timezone=ZoneInfo(self.settings.app.timezone))
        defaults = {"coalesce": True, "max_instances": 1, "replace_existing": True}
        for spec in self.specs.values():
            scheduler.add_job(
                self.run_job,
                spec.trigger,
                args=[spec.id],
                id=spec.id,
                name=spec.id,
                misfire_grace_time=60,
                **defaults,
            )
        renew_every = max(5, self.settings.scheduler.lease_seconds // 3)
        scheduler.add_job(
            self.renew,
            IntervalTrigger(seconds=renew_every),
            id="lease_renew",
            next_run_time=datetime.now(UTC),
            **defaults,
        )
        return scheduler

    def shutdown(self) -> None:
        if self.has_lease:
            with db.connection_context():
                lease.release(self.holder)
            self.has_lease = False


def _summary(result: Any) -> str:
    if result is None:
        return ""
    if isinstance(result, (list, tuple)):
        return f"{len(result)} item(s)"
    return str(result)[:1000]
