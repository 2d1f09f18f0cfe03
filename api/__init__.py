"""The JSON API for the WeChat mini-program, under /api/v1 (see api/openapi.py)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API blueprint, its JSON error answers and its request counts."""
    import importlib

    from api import busy, errors, observe, openapi, v1  # noqa: F401 - the guard, core routes
    from api.common import IdConverter, bp
    from api.openapi import MODULES

    for name in MODULES:
        importlib.import_module(name)

    # JSON_AS_ASCII is gone from Flask 3: say it to the JSON provider (Chinese stays readable).
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.url_map.converters["id"] = IdConverter  # before the routes that use it are added
    app.register_blueprint(bp)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith(bp.name + "."):  # a locked database: run again, then 503
            app.view_functions[endpoint] = busy.retrying(view)
    errors.register(app)
    observe.init_app(app)
    from api.pay import notify_bp

    app.register_blueprint(notify_bp)
