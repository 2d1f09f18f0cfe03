"""The application factory: `create_app()` for gunicorn, Flask's CLI and the tests."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, request

from core import config as config_mod
from core import logs
from core.clock import local_now
from core.workdays import work_calendar
from models.base import db, open_database

log = logging.getLogger("zhibu")


def create_app(config: Mapping[str, Mapping[str, Any]] | None = None) -> Flask:
    """Build the app from config.toml (or ZHIBU_CONFIG), `config` overrides, and ZHIBU_* env."""
    settings = config_mod.load(overrides=config)
    logs.setup(settings.app.log_level, settings.app.log_format, settings.app.timezone)
    app = Flask(__name__)
    app.config["ZHIBU"] = settings
    app.config["SECRET_KEY"] = settings.app.secret_key
    app.config["MAX_CONTENT_LENGTH"] = settings.app.max_body_bytes
    app.config["JSON_AS_ASCII"] = False
    if settings.wechat.mode == "plain":
        log.warning(
            "wechat.mode is 'plain': callback bodies are not signed; use 'safe' in production"
        )

    hops = settings.app.trusted_proxies
    if hops:  # the client address comes from the proxies' X-Forwarded-For, nearest first
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    _bind_database(settings.database)
    # The working days of the years a check-in's streak may reach, built now: on a worker's
    # first check-in this would import the holiday tables while it holds the write lock.
    year = local_now(ZoneInfo(settings.app.timezone)).year
    work_calendar(settings).load(year - 1, year, year + 1)

    @app.before_request
    def _connect() -> None:
        # /healthz and /metrics open their own, and answer (not fail) when it cannot be had.
        if request.blueprint != "ops":
            db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc: BaseException | None) -> None:
        if not db.is_closed():
            db.close()

    from bot.routes import build_dispatcher
    from bot.webhook import bp as wechat_bp

    app.extensions["zhibu.dispatcher"] = build_dispatcher()
    app.register_blueprint(wechat_bp)

    from api import init_app as init_api

    init_api(app)

    from web import init_app as init_web

    init_web(app)

    from ops import init_app as init_ops

    init_ops(app)

    from cli import register_cli

    register_cli(app)
    return app


def _bind_database(database: Any) -> None:
    """Bind the models to the configured database (a pool; nothing connects yet)."""
    db.initialize(
        open_database(
            database.url,
            database.lock_timeout,
            connect_timeout=database.connect_timeout,
            pool_size=database.pool_size,
        )
    )
