"""Every shared fixture of the suite: a real database (SQLite file or PostgreSQL), the app, a
live server, a callback driver, and the /api/v1 environment with the fake WeChat.

The helpers these fixtures build on are plain functions in tests/support/; test data builders
are in tests/factories.py. tests/outbox/conftest.py gives the outbox tests their own ``fake``
and ``env``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest

# tests.clock pins every test to the suite clock.
pytest_plugins = ["tests.clock"]

HERE = Path(__file__).parent
os.environ["ZHIBU_CONFIG"] = str(HERE / "config.test.toml")
for _name in [n for n in os.environ if n.startswith("ZHIBU_") and "__" in n]:
    del os.environ[_name]  # a developer's overrides must not leak into tests

from bot.fake import FakeWeChat  # noqa: E402
from bot.simulate import CallbackDriver  # noqa: E402
from models.base import db  # noqa: E402
from tests.support.api import Env, start_env  # noqa: E402
from tests.support.apps import PG_URL, LiveServer, make_app, make_driver  # noqa: E402

# ----- tiers: `pytest -m fast` runs the in-process tier on its own ---------------------------

# Modules testing handlers, models, config, dates and the scheduler's logic in process: no HTTP
# server, no WeChat crypto round trip. Everything else (the API, the bot over HTTP, the fake
# WeChat, gunicorn, nginx, child processes, hostile files) is the HTTP, crypto and process tier.
FAST_MODULES = frozenset(
    {
        "test_assessment.py",
        "test_assessment_criteria.py",
        "test_calendar.py",
        "test_config_and_cli.py",
        "test_config_example.py",
        "test_console_access.py",
        "test_datetext.py",
        "test_development.py",
        "test_development_changes.py",
        "test_dispatch_order.py",
        "test_dues_amounts.py",
        "test_dues_import.py",
        "test_dues_lapse.py",
        "test_dues_ledger.py",
        "test_exports.py",
        "test_housekeeping.py",
        "test_logs.py",
        "test_organization.py",
        "test_lost_contact.py",
        "test_rectification.py",
        "test_reminders.py",
        "test_retention.py",
        "test_roster.py",
        "test_scheduler.py",
        "test_snapshots.py",
        "test_study_plans.py",
        "test_topic_cache.py",
        "test_training.py",
        "test_volunteer.py",
        "test_wire.py",
        "test_workdays.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the fast tier: tests of FAST_MODULES, except those marked `slow` or `process`."""
    for item in items:
        if (
            item.path.name in FAST_MODULES
            and item.path.parent == HERE
            and item.get_closest_marker("slow") is None
            and item.get_closest_marker("process") is None
        ):
            item.add_marker(pytest.mark.fast)


def _pg_admin(sql: str) -> None:
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql)
    conn.close()


@pytest.fixture(scope="session")
def pg_url(worker_id: str) -> Iterator[str | None]:
    """A PostgreSQL database of this test process, migrated once; None on SQLite runs."""
    if not PG_URL:
        yield None
        return
    # One database per process, so parallel workers and parallel runs never share one.
    name = f"zhibu_test_{worker_id}_{os.getpid()}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = f"{PG_URL.rpartition('/')[0]}/{name}"
    from models.base import open_database
    from models.migrate import upgrade

    database = open_database(url)
    upgrade(database)
    database.close()
    yield url
    if not db.is_closed():
        db.close()
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(pg_url: str | None, tmp_path: Path) -> str:
    """A fresh, migrated database for one test: a new SQLite file, or emptied PostgreSQL."""
    if pg_url:
        return pg_url
    return f"sqlite:///{tmp_path / 'zhibu.db'}"


@pytest.fixture
def app(db_url: str) -> Iterator[Any]:
    application = make_app(db_url)
    yield application
    if not db.is_closed():
        db.close()


@pytest.fixture
def settings(app: Any) -> dict[str, dict[str, Any]]:
    return app.config["ZHIBU"]


@pytest.fixture
def conn(app: Any) -> Iterator[None]:
    """An open connection in an app context, for tests that use models directly."""
    with app.app_context(), db.connection_context():
        yield


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def wechat(settings: dict[str, dict[str, Any]], live_server: LiveServer) -> CallbackDriver:
    """A callback driver posting signed, encrypted XML to the live server over HTTP."""
    return make_driver(settings, live_server.url)


# ----- /api/v1: a live app, the fake WeChat and the cast of tests/support/api.py -------------


@pytest.fixture
def fake(settings: dict[str, dict[str, Any]]) -> Iterator[FakeWeChat]:
    """The fake WeChat servers, answering to the test app's credentials."""
    wechat = settings.wechat
    with FakeWeChat(appid=wechat.app_id, secret=wechat.app_secret) as server:
        yield server


@pytest.fixture
def make_env(db_url: str, fake: FakeWeChat) -> Iterator[Any]:
    """Build live /api/v1 environments (each with setting overrides); stop them after."""
    envs: list[Env] = []

    def build(**overrides: Any) -> Env:
        envs.append(start_env(db_url, fake, **overrides))
        return envs[-1]

    yield build
    for built in envs:
        built.server.stop()


@pytest.fixture
def env(make_env: Any) -> Env:
    return make_env()


# ----- WeChat Pay: a merchant registered at the fake, and an environment paying through it ------


@pytest.fixture
def shop(fake: Any, tmp_path: Path) -> Any:
    """A merchant whose keys are made for the test and registered at the fake."""
    from tests.support.pay import merchant

    return merchant(fake, tmp_path / "keys")


@pytest.fixture
def penv(make_env: Any, shop: Any, fake: Any) -> Any:
    """The pay tests' environment: the merchant's settings, dues assessed for m1 and mb."""
    from tests.support.pay import assessed_pay_env

    return assessed_pay_env(make_env, shop, fake)
