"""The app on a test database, served over real HTTP, and a WeChat callback driver for it.

tests/conftest.py points ZHIBU_CONFIG at tests/config.test.toml before this module is imported.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from werkzeug.serving import make_server

from app import create_app
from bot.simulate import CallbackDriver, http_poster
from models.base import db
from models.registry import ALL_MODELS

PG_URL = os.environ.get("ZHIBU_TEST_DATABASE_URL", "")


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


def make_driver(settings: dict[str, dict[str, Any]], url: str, **kw: Any) -> CallbackDriver:
    wechat = settings.wechat
    return CallbackDriver(
        token=wechat.token,
        aes_key=wechat.encoding_aes_key,
        app_id=wechat.app_id,
        mode=wechat.mode,
        url=url + "/wechat",
        poster=http_poster,
        **kw,
    )
