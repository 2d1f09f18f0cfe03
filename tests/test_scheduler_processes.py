"""S1 with real processes: two `flask scheduler` processes, one runs jobs, the other waits."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

from core.clock import utcnow
from models.base import db
from models.jobs import JobRun
from scheduler import lease
from tests.support.procs import clean_env, python, stop_process

ROOT = Path(__file__).parent.parent


def start_scheduler(db_url: str, log: Path) -> subprocess.Popen:
    env = clean_env(
        ZHIBU_DATABASE__URL=db_url,
        ZHIBU_SCHEDULER__OUTBOX_DRAIN_SECONDS="1",
        # Long enough that a scheduler starved by a busy machine keeps its lease.
        ZHIBU_SCHEDULER__LEASE_SECONDS="15",
    )
    return subprocess.Popen(
        python("-m", "flask", "--app", "app", "scheduler"),
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_for(predicate, timeout: float = 120.0) -> bool:
    """Wait until predicate() holds; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def holders(since=None) -> list[str]:
    with db.connection_context():
        query = JobRun.select(JobRun.holder).where(JobRun.job_id == "outbox_drain")
        if since is not None:
            query = query.where(JobRun.started_at >= since)
        return [r.holder for r in query]


def test_a_second_scheduler_stays_idle_and_takes_over_when_the_first_dies(app, db_url, tmp_path):
    first = start_scheduler(db_url, tmp_path / "first.log")
    second = None
    try:
        assert wait_for(lambda: len(holders()) >= 2), (tmp_path / "first.log").read_text()
        (holder_a,) = set(holders())
        second = start_scheduler(db_url, tmp_path / "second.log")
        started = utcnow()
        # While the first runs three more ticks, the second runs nothing.
        assert wait_for(lambda: len(holders(since=started)) >= 3)
        assert set(holders(since=started)) == {holder_a}
        with db.connection_context():
            assert lease.current_holder(utcnow()) == holder_a
        first.send_signal(signal.SIGKILL)  # dies without releasing the lease
        first.wait(5)
        killed = utcnow()
        assert wait_for(lambda: any(h != holder_a for h in holders(since=killed))), (
            tmp_path / "second.log"
        ).read_text()
        with db.connection_context():
            runs = list(JobRun.select().where(JobRun.job_id == "outbox_drain"))
        assert len({r.tick for r in runs}) == len(runs)  # never two runs of one tick
        assert len({r.holder for r in runs}) == 2
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
