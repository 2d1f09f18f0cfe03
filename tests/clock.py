"""The suite's clock: every test runs at a pinned "today" that is not the real date.

A test that reads time outside its own `time_machine.travel` still reads this pinned clock, so
its result never depends on the day the suite runs; a test that leaks to the real clock shows up
as a failure on every day, not on some days. Child processes follow the same clock through
`tests.clockshim` (see `tests.support.procs.python`). Set ZHIBU_TEST_NOW (ISO 8601 with an
offset) to run the suite at another moment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

# A plain Wednesday in the middle of a month and a quarter, not a holiday nor a 调休 day.
DEFAULT_NOW = "2026-08-19T09:30:00+08:00"
ENV = "ZHIBU_TEST_NOW"
# The pinned day must be at least this far from the real one, so a leak cannot hide.
MIN_DISTANCE = timedelta(days=30)


def suite_now() -> datetime:
    """Return the pinned moment every test starts at."""
    moment = datetime.fromisoformat(os.environ.get(ENV) or DEFAULT_NOW)
    if moment.tzinfo is None:
        raise pytest.UsageError(f"{ENV} needs an offset, e.g. 2026-08-19T09:30:00+08:00")
    return moment


_REAL_NOW = datetime.now(UTC)  # read once, at import, before any travel starts
_session_travel: Any = None


def pytest_configure(config: pytest.Config) -> None:
    global _session_travel
    now = suite_now()
    if abs(now - _REAL_NOW) < MIN_DISTANCE:
        raise pytest.UsageError(
            f"the suite clock {now.isoformat()} is within {MIN_DISTANCE.days} days of the real "
            f"clock {_REAL_NOW.isoformat()}: set {ENV} to a moment further away"
        )
    # Collection and module-level code run on the pinned clock too.
    _session_travel = time_machine.travel(now, tick=True)
    _session_travel.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _session_travel is not None:
        _session_travel.stop()


def pytest_sessionstart(session: pytest.Session) -> None:
    """Say the suite clock at the start of every run, -q included (xdist workers stay quiet)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and not hasattr(session.config, "workerinput"):
        reporter.write_line(
            f"suite clock: {suite_now().isoformat()} (real clock {_REAL_NOW.isoformat()}); "
            f"every test starts at the suite clock"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:  # fixtures' set-up too runs on the test's clock: the pin comes first
        if "_pinned_clock" in getattr(item, "fixturenames", ()):
            item.fixturenames.remove("_pinned_clock")
            item.fixturenames.insert(0, "_pinned_clock")


@pytest.fixture(autouse=True)
def _pinned_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Start every test (its fixtures too) at the suite's pinned moment, or at the moment of its
    `clock` mark; time then runs on from there."""
    mark = request.node.get_closest_marker("clock")
    moment = mark.args[0] if mark else suite_now()
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    with time_machine.travel(moment, tick=True):
        yield
