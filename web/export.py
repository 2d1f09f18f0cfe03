"""The download of 我的数据 through its one-time link: /export/<member id>/<token>.

No login: the link's token is the member's own, used once and short-lived (handlers.privacy).
The JSON by default; ?format=xlsx answers the workbook. A refusal answers its Chinese text.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from core.clock import utcnow
from core.text import content_disposition
from handlers.errors import DomainError
from handlers.privacy import export_bytes, redeem_export_link

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

export_bp = Blueprint("export", __name__, url_prefix="/export")


@export_bp.get("/<int:member_id>/<token>")
def download(member_id: int, token: str) -> Response:
    """The member's data, once."""
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "xlsx"):
        return Response("format 只能是 json 或 xlsx。", status=400, mimetype="text/plain")
    now = utcnow()
    try:
        data = redeem_export_link(member_id, token, settings=current_app.config["ZHIBU"], now=now)
    except DomainError as exc:
        return Response(exc.message, status=400, mimetype="text/plain")
    if fmt == "xlsx":
        response = Response(export_bytes(data, created=now), mimetype=XLSX)
        response.headers["Content-Disposition"] = content_disposition(
            data.filename, data.ascii_filename
        )
    else:
        response = jsonify(data.as_json())
    response.headers["Cache-Control"] = "no-store"
    return response
