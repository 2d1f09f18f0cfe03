"""The web console for secretaries and committees: server-rendered Jinja2 pages with htmx.

A thin front door like bot/ and api/: each view parses the request, calls one handler and
renders a template. Static files (htmx, ECharts, the stylesheet) are served by the app from
web/static; nothing is loaded from another site.
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer

csrf = CSRFProtect()


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, with the signing serializer built once per secret key
    (and fallbacks) rather than on every request, WeChat's callbacks included."""

    def __init__(self) -> None:
        self._serializers: dict[tuple[object, ...], URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        if keys not in self._serializers:
            self._serializers[keys] = super().get_signing_serializer(app)
        return self._serializers[keys]


def init_app(app: Flask) -> None:
    """Register the console blueprint, its CSRF protection and its session cookie settings."""
    from web.common import bp
    from web.export import export_bp

    for module in pkgutil.iter_modules(__path__):  # every page module registers its routes
        if module.name != "common":
            importlib.import_module(f"{__name__}.{module.name}")

    settings = app.config["ZHIBU"]
    app.config.update(
        # CSRF is checked by the console's own before_request, not on /wechat or /api/v1.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session cookie
        SESSION_COOKIE_NAME="zhibu_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.console.base_url.startswith("https://"),
    )
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(export_bp)  # 我的数据's one-time links, outside the console's login
