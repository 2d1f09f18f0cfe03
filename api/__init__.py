"""The JSON API for the WeChat mini-program, under /api/v1 (see api/openapi.py)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API blueprint and its JSON error answers."""
    from api import errors
    from api.v1 import bp

    # JSON_AS_ASCII is gone from Flask 3: say it to the JSON provider (Chinese stays readable).
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.register_blueprint(bp)
    errors.register(app)
