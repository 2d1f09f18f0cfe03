"""Shapes of the 我的数据 route (api/privacy.py)."""

from __future__ import annotations

from api.shapes import Answer, TimeText


class ExportLinkAnswer(Answer):
    url: str  # the one-time download address (JSON; ?format=xlsx for the workbook)
    expires_at: TimeText
    minutes: int
