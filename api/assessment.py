"""/api/v1 routes: the branch assessment (星级评定).

Committee admins: every branch of the committee for a complete month, ranked by score, each
with its breakdown (``GET /committee/assessment``). A branch's managers (a committee admin with
``branch_id``): the branch's score, breakdown, trend and place among the committee's branches,
without any other branch's name or score (``GET /branch/assessment``).
"""

from __future__ import annotations

from typing import Any

from flask import Response

from api.common import DEFAULT_LIMIT, bp, member, query, render_as, settings
from api.openapi import operation
from api.shapes import assessment as shapes
from core.clock import utcnow
from handlers import assessment as h

READ = ("400", "401", "403")


def _part(p: h.Part) -> dict[str, Any]:
    return {
        "key": p.name,
        "label": p.label,
        "weight": p.weight,
        "counted": p.counted,
        "share": round(p.share, 2) if p.share is not None else None,
        "rate": round(p.rate, 4) if p.rate is not None else None,
        "points": round(p.points, 2) if p.points is not None else None,
        "done": p.measure.done,
        "due": p.measure.due,
        "text": p.measure.text,
    }


def _score(s: h.Score) -> dict[str, Any]:
    return {
        "branch": {"id": s.branch_id, "name": s.branch_name},
        "month": f"{s.month:%Y-%m}",
        "judged": s.judged,
        "score": s.score,
        "stars": s.stars,
        "stars_label": s.stars_label,
        "rank": s.rank,
        "renormalised": s.renormalised,
        "criteria": [_part(p) for p in s.parts],
    }


@bp.get("/committee/assessment")
@operation(
    "Committee admins: every branch's assessment for a month, best first",
    {200: (shapes.CommitteeAssessmentPage, "Branches by score (unrated ones last)")},
    errors=READ,
    query=shapes.CommitteeAssessmentQuery,
    description="The score (0-100) is the weighted mean of the rates of the criteria that "
    "apply; 400 invalid_month for the current or a future month.",
)
def committee_assessment() -> Response:
    """A committee's branches ranked by their assessment score."""
    args = query(shapes.CommitteeAssessmentQuery)
    view = h.committee_assessment(member(), args.get("month"), now=utcnow(), settings=settings())
    limit, offset = args.get("limit", DEFAULT_LIMIT), args.get("offset", 0)
    labels = h.LABELS
    return render_as(
        shapes.CommitteeAssessmentPage,
        {
            "items": [_score(s) for s in view.rows[offset : offset + limit]],
            "total": len(view.rows),
            "limit": limit,
            "offset": offset,
            "month": f"{view.month:%Y-%m}",
            "ranked": view.ranked_count,
            "weights": [
                {"key": k, "label": labels[k], "weight": w} for k, w in view.weights.items()
            ],
        },
    )


@bp.get("/branch/assessment")
@operation(
    "A branch's assessment: score, breakdown, trend and place (managers)",
    {200: (shapes.BranchAssessmentAnswer, "The branch's month and its trend")},
    errors=READ,
    query=shapes.BranchAssessmentQuery,
    description="Committee admins pass branch_id. Other branches are counted, never named.",
)
def branch_assessment() -> Response:
    """One branch's assessment for a month, with its trend."""
    args = query(shapes.BranchAssessmentQuery)
    view = h.branch_assessment(
        member(),
        args.get("branch_id"),
        args.get("month"),
        now=utcnow(),
        settings=settings(),
    )
    return render_as(
        shapes.BranchAssessmentAnswer,
        {
            "month": f"{view.score.month:%Y-%m}",
            "score": _score(view.score),
            "ranked": view.ranked_count,
            "trend": [
                {
                    "month": f"{t.month:%Y-%m}",
                    "score": t.score,
                    "stars": t.stars,
                    "stars_label": t.stars_label,
                }
                for t in view.trend
            ],
        },
    )
