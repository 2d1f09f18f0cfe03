"""Count every /api/ request for /metrics: by route (the URL rule, never the raw path, so ids
do not make new series), method and status, and time it by route (core.metrics)."""

from __future__ import annotations

import time

from flask import Flask, Response, g, request

from core.metrics import API_REQUESTS, API_SECONDS

PREFIX = "/api/"
# Any other method a client invents is counted as "other": labels stay a short, fixed list.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # the route of a path no rule matches (answered 404)


def init_app(app: Flask) -> None:
    """Time and count the app's /api/ requests, whatever answers them (views, error pages)."""
    app.before_request(_start)
    app.after_request(_count)


def _start() -> None:
    if request.path.startswith(PREFIX):
        g.api_started = time.perf_counter()


def _count(response: Response) -> Response:
    if request.path.startswith(PREFIX):
        route = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        method = request.method if request.method in METHODS else "other"
        API_REQUESTS.labels(route, method, str(response.status_code)).inc()
        started = g.pop("api_started", None)
        if started is not None:
            API_SECONDS.labels(route).observe(time.perf_counter() - started)
    return response
