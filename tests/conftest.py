"""Shared fixtures: a real database (SQLite file or PostgreSQL), the app, a live server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from werkzeug.serving import make_server

# tests.clock pins every test to the suite clock; tests.api_env: the /api/v1 fixtures.
pytest_plugins = ["tests.clock", "tests.api_env"]

HERE = Path(__file__).parent
os.environ["ZHIBU_CONFIG"] = str(HERE / "config.test.toml")
for _name in [n for n in os.environ if n.startswith("ZHIBU_") and "__" in n]:
    del os.environ[_name]  # a developer's overrides must not leak into tests

from app import create_app  # noqa: E402
from bot.simulate import CallbackDriver, http_poster  # noqa: E402
from models.base import db  # noqa: E402
from models.registry import ALL_MODELS  # noqa: E402

PG_URL = os.environ.get("ZHIBU_TEST_DATABASE_URL", "")


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


def make_app(db_url: str, **overrides: Any) -> Any:
    """Build the app on db_url with per-section overrides, migrated and empty."""
    config: dict[str, dict[str, Any]] = {"database": {"url": db_url}}
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    app = create_app(config)
    from models.migrate import upgrade

    with db.connection_context():
        upgrade(db.obj)
        if db_url.startswith("postgresql"):
            tables = ", ".join(f'"{m._meta.table_name}"' for m in ALL_MODELS)
            db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return app


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


class LiveServer:
    """The app served over real HTTP on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    yield server
    server.stop()


def make_driver(settings: dict[str, dict[str, Any]], url: str, **kw: Any) -> CallbackDriver:
    wechat = settings["wechat"]
    return CallbackDriver(
        token=wechat["token"],
        aes_key=wechat["encoding_aes_key"],
        app_id=wechat["app_id"],
        mode=wechat["mode"],
        url=url + "/wechat",
        poster=http_poster,
        **kw,
    )


@pytest.fixture
def wechat(settings: dict[str, dict[str, Any]], live_server: LiveServer) -> CallbackDriver:
    """A callback driver posting signed, encrypted XML to the live server over HTTP."""
    return make_driver(settings, live_server.url)
