"""The console's branch assessment (星级评定): the committee's branches ranked with each
breakdown, and a branch's score, breakdown, place and trend (its managers; committee admins).

The views call handlers.assessment's use cases and render them; the month is ``?month=YYYY-MM``
(a complete month; default last month).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import request

from core.clock import utcnow
from handlers import assessment as h
from handlers.dues import add_months
from handlers.errors import Invalid
from web.common import bp, nav_item, page, settings, user

nav_item(50, "星级评定", "console.assessment")

MONTHS_OFFERED = 12


def _month() -> date | None:
    text = (request.args.get("month") or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text + "-01")
    except ValueError:
        raise Invalid(f"月份 {text[:20]} 无法识别，请写成 2026-11 这样的格式。") from None


def _choices() -> list[date]:
    """The complete months offered in the month picker, newest first."""
    last = h.last_complete_month(utcnow(), settings())
    return [add_months(last, -k) for k in range(MONTHS_OFFERED)]


@bp.get("/committee/assessment")
def committee_assessment() -> Any:
    view = h.committee_assessment(user().member, _month(), now=utcnow(), settings=settings())
    shown = [(k, h.LABELS[k], w) for k, w in view.weights.items() if w]
    bands = settings().assessment
    return page(
        "assessment_committee.html", view=view, shown=shown, months=_choices(), bands=bands
    )


@bp.get("/branch/<int:branch_id>/assessment")
def assessment(branch_id: int) -> Any:
    view = h.branch_assessment(
        user().member, branch_id, _month(), now=utcnow(), settings=settings()
    )
    return page("assessment_branch.html", view=view, s=view.score, months=_choices())
