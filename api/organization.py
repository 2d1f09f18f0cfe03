"""/api/v1 routes: a branch's organization.

Managers (the branch's secretary, deputy secretary or organizer; a committee admin for the
committee's branches, with ``branch_id``): the committee's current term and its history, and a
new election recorded; the members flagged as lost contact with their last outcome, and an
outcome recorded. Committee admins: every branch's term, party-affairs staffer and open
lost-contact cases side by side (counts, never people). The console calls the same handlers.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from api.common import DEFAULT_LIMIT, body, bp, day_text, iso, member, query, render_as, settings
from api.common import tz as local_zone
from api.openapi import operation
from api.shapes import PageQuery
from api.shapes import organization as shapes
from api.shapes.branch import BranchQuery
from core.clock import local_day, utcnow
from handlers import organization as h

MANAGER = ("400", "401", "403")
WRITE = ("400", "401", "403", "404", "409", "422")


# ---- representations ------------------------------------------------------------------------


def _person(p: h.Person | None) -> dict[str, Any] | None:
    return {"id": p.id, "name": p.name} if p is not None else None


def _term(t: h.Term) -> dict[str, Any]:
    return {
        "id": t.id,
        "started_on": day_text(t.started_on),
        "ends_on": day_text(t.ends_on),
        "years": t.years,
        "own_years": t.own_years,
        "note": t.note,
        "recorded_at": iso(t.recorded_at),
        "recorded_by": _person(t.recorded_by),
    }


def _terms(page: h.TermPage) -> dict[str, Any]:
    state = page.state
    return {
        "branch": {"id": page.branch.id, "name": page.branch.name},
        "as_of": day_text(state.today),
        "status": state.status,
        "status_label": state.status_label,
        "days_left": state.days_left,
        "current": _term(state.current) if state.current else None,
        "history": [_term(t) for t in page.history],
    }


def _case(c: h.Case) -> dict[str, Any]:
    last = None
    if c.last is not None:
        row = c.last.outcome
        last = {
            "outcome": row.outcome,
            "outcome_label": row.outcome_label,
            "happened_on": day_text(row.happened_on),
            "place": row.place,
            "note": row.note,
            "recorded_at": iso(row.recorded_at),
            "recorded_by": _person(c.last.recorded_by),
        }
    active = c.last_active_at
    return {
        "member": _person(c.member),
        "last_active_on": day_text(local_day(active, local_zone())) if active else None,
        "open": c.open,
        "reopens_on": day_text(c.reopens_on),
        "last_outcome": last,
    }


def _paging(args: dict[str, Any]) -> dict[str, int]:
    return {"limit": args.pop("limit", DEFAULT_LIMIT), "offset": args.pop("offset", 0)}


# ---- committee terms ------------------------------------------------------------------------


@bp.get("/branch/term")
@operation(
    "The branch committee's current term (换届) and its history (managers)",
    {200: (shapes.BranchTerms, "The term")},
    errors=MANAGER,
    query=BranchQuery,
)
def branch_term() -> Response:
    args = query(BranchQuery)
    page = h.branch_term(member(), args.get("branch_id"), now=utcnow(), settings=settings())
    return render_as(shapes.BranchTerms, _terms(page))


@bp.post("/branch/term")
@operation(
    "Record an election: the new committee's term starts (managers)",
    {201: (shapes.BranchTerms, "Recorded; the term and its history")},
    errors=WRITE,
    json=shapes.TermRequest,
    description="422 start_in_future beyond terms.start_ahead_days; 409 not_after_current "
    "for a start not after the current term's; 400 invalid_years beyond terms.max_years.",
)
def branch_term_record() -> tuple[Response, int]:
    data = body(shapes.TermRequest)
    page = h.record_term(
        member(),
        data.pop("branch_id", None),
        started_on=data["started_on"],
        years=data.get("years"),
        note=data.get("note") or "",
        now=utcnow(),
        settings=settings(),
    )
    return render_as(shapes.BranchTerms, _terms(page)), 201


# ---- lost contact ---------------------------------------------------------------------------


@bp.get("/branch/lost-contact")
@operation(
    "Members flagged as lost contact with their last outcome, open cases first (managers)",
    {200: (shapes.LostContactPage, "Cases")},
    errors=MANAGER,
    query=shapes.BranchPageQuery,
)
def lost_contact_cases() -> Response:
    args = query(shapes.BranchPageQuery)
    paging = _paging(args)
    page = h.branch_cases(
        member(), args.get("branch_id"), now=utcnow(), settings=settings(), **paging
    )
    answer = {
        "items": [_case(c) for c in page.cases],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "branch": {"id": page.branch.id, "name": page.branch.name},
        "open": page.open_count,
        "days": page.days,
    }
    return render_as(shapes.LostContactPage, answer)


@bp.post("/branch/lost-contact/<id:member_id>/outcomes")
@operation(
    "Record the outcome of following up a member flagged as lost contact (managers)",
    {201: (shapes.LostContactCase, "Recorded; the case")},
    errors=WRITE,
    json=shapes.OutcomeRequest,
    description="The member's status never changes. 422 not_flagged for a member in touch; "
    "404 for a member of a branch the caller does not manage.",
)
def lost_contact_outcome(member_id: int) -> tuple[Response, int]:
    data = body(shapes.OutcomeRequest)
    case = h.record_outcome(
        member(),
        member_id,
        outcome=data["outcome"],
        happened_on=data["happened_on"],
        place=data.get("place") or "",
        note=data.get("note") or "",
        now=utcnow(),
        settings=settings(),
    )
    return render_as(shapes.LostContactCase, _case(case)), 201


# ---- the committee --------------------------------------------------------------------------


def _health(b: h.BranchHealth) -> dict[str, Any]:
    term = b.term
    current = term.current
    return {
        "branch": {"id": b.branch_id, "name": b.name},
        "term": {
            "status": term.status,
            "status_label": term.status_label,
            "started_on": day_text(current.started_on) if current else None,
            "ends_on": day_text(current.ends_on) if current else None,
            "days_left": term.days_left,
        },
        "affairs_staff": b.affairs_staff,
        "lost_contact_open": b.lost_contact_open,
    }


@bp.get("/committee/organization")
@operation(
    "Committee admins: every branch's term, party-affairs staffer and open lost-contact cases",
    {200: (shapes.CommitteeOrganizationPage, "Branches, by id")},
    errors=MANAGER,
    query=PageQuery,
)
def committee_organization() -> Response:
    args = query(PageQuery)
    paging = _paging(args)
    page = h.committee_organization(member(), now=utcnow(), settings=settings(), **paging)
    answer = {
        "items": [_health(b) for b in page.branches],
        "total": page.total,
        **paging,
        "as_of": day_text(page.today),
    }
    return render_as(shapes.CommitteeOrganizationPage, answer)
