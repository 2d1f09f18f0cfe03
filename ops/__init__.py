"""The operator's HTTP door: /healthz for load balancers and process managers, /metrics for
Prometheus. Like every door it parses, calls one handler function (handlers.monitoring) and
renders; it opens its own database connection, so a database that is down is reported here
rather than failing the request."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register /healthz and /metrics."""
    from ops.views import bp

    app.register_blueprint(bp)
