"""GET /healthz (is the database answering?) and GET /metrics (Prometheus' text format)."""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, abort, current_app, jsonify, request

from core.clock import utcnow
from core.config import MetricsSettings, Settings
from core.metrics import CONTENT_TYPE, exposition
from handlers import monitoring

bp = Blueprint("ops", __name__)


def _settings() -> Settings:
    return current_app.config["ZHIBU"]


@bp.get("/healthz")
def healthz() -> Response:
    """200 {"status": "ok", "checks": {"database": "ok"}}, or 503 naming the failing check
    with a short reason: {"status": "failing", "checks": {"database": "cannot connect"}}."""
    health = monitoring.check_health(_settings().database.connect_timeout)
    response = jsonify({"status": "ok" if health.ok else "failing", "checks": health.checks})
    response.status_code = 200 if health.ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics() -> Response:
    """Every metric, for a scraper with the token or from an allowed address; 404 while
    metrics.enabled is false, 401 to anyone else."""
    conf = _settings().metrics
    if not conf.enabled:
        abort(404)
    if not may_scrape(conf):
        return Response(
            "401 Unauthorized: send Authorization: Bearer <metrics.token>\n",
            status=401,
            mimetype="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="zhibu metrics"'},
        )
    body = exposition(lambda: monitoring.metrics_snapshot(utcnow()))
    return Response(body, content_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})


def may_scrape(conf: MetricsSettings) -> bool:
    """The request carries the bearer token, or comes from an allowed address."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if conf.token and scheme.lower() == "bearer":
        if hmac.compare_digest(token.strip().encode(), conf.token.encode()):
            return True
    if not conf.allowed_addresses or not request.remote_addr:
        return False
    try:
        client = ipaddress.ip_address(request.remote_addr)
    except ValueError:  # a unix socket peer, or a forwarded value that is no address
        return False
    return any(
        client in ipaddress.ip_network(allowed, strict=False) for allowed in conf.allowed_addresses
    )
