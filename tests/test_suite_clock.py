"""The suite clock holds everywhere a test can read time: in-process, in fixtures, in children."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import utcnow
from tests.clock import suite_now
from tests.support.procs import ROOT, clean_env, python

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def fixture_now() -> datetime:
    return utcnow()


def test_a_test_and_its_fixtures_start_at_the_suite_clock(fixture_now: datetime) -> None:
    start = suite_now()
    for seen in (fixture_now, utcnow(), datetime.fromtimestamp(time.time(), UTC)):
        assert start <= seen < start + timedelta(minutes=5), seen
    assert date.today() == start.date()


@pytest.mark.clock(datetime(2027, 2, 28, 23, 59, tzinfo=SH))
def test_a_clock_mark_moves_the_test_and_its_fixtures(fixture_now: datetime) -> None:
    assert fixture_now.astimezone(SH).date() == date(2027, 2, 28)
    assert utcnow().astimezone(SH).date() in (date(2027, 2, 28), date(2027, 3, 1))


def test_a_child_process_runs_on_the_test_clock() -> None:
    out = subprocess.run(
        python("-m", "tests.clockshim_probe"),
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    child = datetime.fromisoformat(out.stdout.strip())
    assert abs(child - utcnow()) < timedelta(minutes=1), (child, utcnow())
