"""P5 end to end: `bench/scale_bench.py --quick` against the PostgreSQL server (`-m slow`).

Two app instances, two schedulers, outbox drains and the fake WeChat, every one a real process
on one PostgreSQL database: every callback answered once, one check-in a member and day, every
message sent exactly once, the scheduler's lease handed on after a SIGKILL, nothing lost when a
drain is killed mid-batch. The benchmark makes and drops its own database on the server of
ZHIBU_TEST_DATABASE_URL (default: the local server), so this test runs in the SQLite half of
the suite too; without a reachable server it fails, saying so.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """An existing database on the server the benchmark may create its own database beside."""
    url = os.environ.get("ZHIBU_TEST_DATABASE_URL") or LOCAL_SERVER
    try:
        psycopg2.connect(url, connect_timeout=10).close()
    except psycopg2.OperationalError as exc:
        pytest.fail(
            f"P5 runs on PostgreSQL and none answers at {url}: {exc}. Start the server, or set "
            "ZHIBU_TEST_DATABASE_URL to a database on one (the benchmark creates and drops "
            "zhibu_scale_<pid> beside it)."
        )
    return url


@pytest.mark.slow
@pytest.mark.process
def test_instances_drains_and_schedulers_together_pass_every_check_of_the_quick_run() -> None:
    url = server_url()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHIBU_")}
    run = subprocess.run(
        [sys.executable, "bench/scale_bench.py", "--quick", "--database-url", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # a hang guard: the run takes one to two minutes on two cores
    )
    output = run.stdout[-8000:] + "\n" + run.stderr[-4000:]
    assert run.returncode == 0, output
    assert "All checks passed." in run.stdout, output
    assert "FAIL" not in run.stdout, output
