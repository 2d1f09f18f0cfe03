"""/api/v1 route of 我的数据: a one-time download link of everything kept about the caller."""

from __future__ import annotations

from flask import Response

from api.common import bp, iso, member, render_as, settings
from api.openapi import operation
from api.shapes import privacy as shapes
from core.clock import utcnow
from handlers.privacy import issue_export_link


@bp.get("/me/export")
@operation(
    "My data (我的数据): a one-time download link of everything kept about me",
    {200: (shapes.ExportLinkAnswer, "The link, its expiry and validity in minutes")},
    errors=("401", "403", "429"),
    description="The link works once, for export.link_minutes; it answers the JSON of the "
    "caller's roster entry, bindings (masked), check-ins, attendance and leaves, dues, WeChat "
    "Pay orders, volunteer service, training, development record, rectification items and the "
    "messages sent to them; ?format=xlsx answers the workbook. 429 past export.per_hour links "
    "an hour.",
)
def my_export_link() -> Response:
    """A fresh download link for the caller (我的数据 in the bot)."""
    offer = issue_export_link(member(), settings=settings(), now=utcnow())
    data = {"url": offer.url, "expires_at": iso(offer.expires_at), "minutes": offer.minutes}
    return render_as(shapes.ExportLinkAnswer, data)
