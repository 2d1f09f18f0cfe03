"""The scheduler: Shanghai cron whatever the machine's zone, the lease, one run per tick."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from models.base import db
from models.jobs import JobRun
from scheduler import jobs, lease
from scheduler.runner import Runner, job_specs, last_due

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def counting(monkeypatch, settings):
    """Replace the jobs with ones that count their runs (the runner is what is tested)."""
    calls: list[tuple[str, datetime]] = []

    def fake(job_id):
        return lambda s, now: calls.append((job_id, now))

    monkeypatch.setitem(jobs.CRON_JOBS, "token_refresh", fake("token_refresh"))
    monkeypatch.setitem(jobs.CRON_JOBS, "meeting_qr", fake("meeting_qr"))
    return calls


@pytest.mark.parametrize("machine_tz", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_cron_times_are_shanghai_whatever_the_machine_zone(app, settings, machine_tz):
    settings.scheduler.token_refresh = "0 8 * * *"
    old = os.environ.get("TZ")
    os.environ["TZ"] = machine_tz
    time.tzset()
    try:
        spec = next(s for s in job_specs(settings) if s.id == "token_refresh")
        now = datetime(2026, 11, 26, 9, 0, tzinfo=SH)
        nxt = spec.trigger.get_next_fire_time(None, now)
    finally:
        if old is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = old
        time.tzset()
    assert nxt == datetime(2026, 11, 27, 8, 0, tzinfo=SH)


def test_a_day_of_week_must_be_a_name(db_url):
    from core.config import ConfigError
    from tests.support.apps import make_app

    with pytest.raises(ConfigError, match="scheduler.token_refresh.*by name"):
        make_app(db_url, scheduler={"token_refresh": "0 9 * * 6"})
    with pytest.raises(ConfigError, match="scheduler.meeting_qr.*5 cron fields"):
        make_app(db_url, scheduler={"meeting_qr": "every day"})


def test_only_the_lease_holder_runs_jobs(conn, settings, counting):
    now = datetime(2026, 11, 26, 8, 0, tzinfo=SH)
    first, second = Runner(settings, "proc-a"), Runner(settings, "proc-b")
    assert first.run_job("token_refresh", now=now)
    assert not second.run_job("token_refresh", now=now + timedelta(seconds=20))
    assert lease.current_holder(now + timedelta(seconds=20)) == "proc-a"
    # proc-a dies without releasing: after the lease expires, proc-b takes over.
    later = now + timedelta(minutes=5)  # the lease (60 s) has long expired; a new tick
    # Taking the lease over catches up on the 08:05 tick; the run itself then finds it done.
    second.run_job("token_refresh", now=later)
    assert lease.current_holder(later) == "proc-b"
    assert not first.run_job("meeting_qr", now=later)
    assert [c[0] for c in counting] == ["token_refresh", "token_refresh"]
    assert {r.holder for r in JobRun.select()} == {"proc-a", "proc-b"}


def test_one_run_per_tick_even_from_two_processes(conn, settings, counting):
    now = datetime(2026, 11, 26, 8, 0, 3, tzinfo=SH)
    runner = Runner(settings, "proc-a")
    assert runner.run_job("token_refresh", now=now)
    assert not runner.run_job("token_refresh", now=now + timedelta(seconds=20))  # same tick
    assert runner.run_job("token_refresh", now=now + timedelta(minutes=5))  # the next tick
    assert len(counting) == 2
    ticks = [r.tick for r in JobRun.select().order_by(JobRun.id)]
    assert ticks == ["2026-11-26T00:00:00+00:00", "2026-11-26T00:05:00+00:00"]


def test_missed_ticks_give_one_catch_up_and_no_double(conn, settings, counting):
    settings.scheduler.meeting_qr = "0 8 * * *"
    runner = Runner(settings, "proc-a")
    day1 = datetime(2026, 11, 24, 8, 0, 1, tzinfo=SH)
    assert runner.run_job("meeting_qr", now=day1)
    runner.shutdown()
    # Down for two days (two 08:00 ticks missed); restarted at 10:00 on the third day.
    restarted = Runner(settings, "proc-b")
    restart = datetime(2026, 11, 26, 10, 0, tzinfo=SH)
    assert restarted.renew(restart)
    qr_runs = [c for c in counting if c[0] == "meeting_qr"]
    assert len(qr_runs) == 2  # day 1, then exactly one catch-up
    # The catch-up ran for the latest missed tick; the scheduler firing it again is refused.
    tick = datetime(2026, 11, 26, 8, 0, tzinfo=SH)
    assert not restarted.run_job("meeting_qr", now=restart, tick="2026-11-26T00:00:00+00:00")
    assert JobRun.select().where(JobRun.job_id == "meeting_qr").count() == 2
    assert last_due(restarted.specs["meeting_qr"].trigger, restart, day1) == tick
    # A second restart catches up on nothing.
    restarted.has_lease = False
    restarted.renew(restart + timedelta(minutes=1))
    assert len([c for c in counting if c[0] == "meeting_qr"]) == 2


def test_missed_ticks_older_than_the_window_are_skipped(conn, settings, counting):
    settings.scheduler.meeting_qr = "0 8 * * *"
    Runner(settings, "a").run_job("meeting_qr", now=datetime(2026, 11, 1, 8, 0, 1, tzinfo=SH))
    restart = datetime(2026, 11, 26, 7, 0, tzinfo=SH)  # 23 h after the last due 08:00
    Runner(settings, "b").renew(restart)
    assert len(counting) == 1


def test_a_failing_job_is_recorded_and_the_runner_goes_on(conn, settings, monkeypatch):
    def boom(s, now):
        raise RuntimeError("branch 7 has no channel")

    monkeypatch.setitem(jobs.CRON_JOBS, "meeting_qr", boom)
    runner = Runner(settings, "a")
    now = datetime(2026, 11, 26, 8, 0, tzinfo=SH)
    assert runner.run_job("meeting_qr", now=now)
    (run,) = JobRun.select()
    assert run.ok is False and "branch 7 has no channel" in run.detail


def test_jobs_cli_lists_and_runs(app):
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["jobs"])
    assert "token_refresh" in listed.output and "never run" in listed.output
    ran = runner.invoke(args=["jobs", "run", "meeting_qr"])
    assert ran.exit_code == 0 and "meeting_qr: ok" in ran.output
    assert "last" in runner.invoke(args=["jobs"]).output
    assert runner.invoke(args=["jobs", "run", "nope"]).exit_code == 2
    with db.connection_context():
        assert JobRun.select().count() == 1


def test_scheduler_refuses_to_start_when_a_channel_lacks_its_settings(app):
    from handlers.outbox import set_branch_channel
    from tests import factories as f

    with db.connection_context():
        br = f.branch()
        set_branch_channel(br.id, "wecom_appchat", "chat-123", datetime.now(SH))
    result = app.test_cli_runner().invoke(args=["scheduler"])
    assert result.exit_code != 0
    assert "config error: channels.wecom_corp_id: required" in str(result.exception)
    with db.connection_context():
        assert JobRun.select().count() == 0
