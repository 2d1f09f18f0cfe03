"""/api/v1 routes: volunteer service (党员志愿服务) and training hours (学时).

Members log their own service and read their own entries, totals and 学时. A branch's
managers (secretary, deputy secretary, organizer; a committee admin for the committee's
branches, with ``branch_id``) read the branch's entries, confirm them or send them back with a
reason, read each party member's 学时 and record other training. An entry of a branch the
caller may not see answers 404; one of their own branch on a manager route answers 403.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from api.common import DEFAULT_LIMIT, body, bp, day_text, iso, member, query, render_as, settings
from api.openapi import operation
from api.shapes import PageQuery
from api.shapes import volunteer as shapes
from core.clock import utcnow
from handlers import training as t
from handlers import volunteer as v
from models.volunteer import VolunteerEntry

MEMBER = ("400", "401", "403")
WRITE = ("400", "401", "403", "409", "422")


def _entry(entry: VolunteerEntry, name: str) -> dict[str, Any]:
    return {
        "id": entry.id,
        "member": {"id": entry.member_id, "name": name},
        "branch_id": entry.branch_id,
        "day": day_text(entry.day),
        "minutes": entry.minutes,
        "hours": v.hours_number(entry.minutes),
        "description": entry.description,
        "status": entry.status,
        "status_label": entry.status_label,
        "reason": entry.reason,
        "source": entry.source,
        "created_at": iso(entry.created_at),
        "decided_at": iso(entry.decided_at),
    }


def _paging(args: dict[str, Any]) -> dict[str, int]:
    return {"limit": args.pop("limit", DEFAULT_LIMIT), "offset": args.pop("offset", 0)}


def _year(hours: t.YearHours) -> dict[str, Any]:
    return {
        "year": hours.year,
        "required_hours": hours.required_hours,
        "meeting_minutes": hours.meeting_minutes,
        "other_minutes": hours.other_minutes,
        "minutes": hours.minutes,
        "hours": hours.hours,
        "below": hours.below,
    }


# ---- members ----------------------------------------------------------------------------------


@bp.post("/me/volunteer")
@operation(
    "Log my volunteer service, for the branch secretary to confirm",
    {201: (shapes.VolunteerLogged, "Logged (待确认)")},
    errors=WRITE,
    json=shapes.VolunteerLogRequest,
    description="The bot's 志愿 2小时 社区清扫. 400: too many hours, a day in the future or too "
    "long ago; 409 already_logged for the same service twice.",
)
def volunteer_log() -> tuple[Response, int]:
    data = body(shapes.VolunteerLogRequest)
    me = member()
    logged = v.log_service(
        me,
        minutes=data["minutes"],
        description=data["description"],
        day=data.get("day"),
        source="api",
        now=utcnow(),
        settings=settings(),
    )
    message = f"已登记志愿服务：{v.describe(logged.entry)}，待支部书记确认后计入服务时长。"
    answer = {"entry": _entry(logged.entry, me.name), "message": message}
    return render_as(shapes.VolunteerLogged, answer), 201


@bp.get("/me/volunteer")
@operation(
    "My volunteer service: my entries (newest first) and this year's totals",
    {200: (shapes.VolunteerMine, "My entries")},
    errors=MEMBER,
    query=PageQuery,
)
def volunteer_mine() -> Response:
    args = query(PageQuery)
    me = member()
    page = v.my_entries(me, now=utcnow(), settings=settings(), **_paging(args))
    totals = page.totals
    return render_as(
        shapes.VolunteerMine,
        {
            "items": [_entry(e, me.name) for e in page.items],
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
            "totals": {
                "year": totals.year,
                "confirmed_minutes": totals.confirmed_minutes,
                "confirmed_hours": v.hours_number(totals.confirmed_minutes),
                "confirmed_entries": totals.confirmed_entries,
                "pending_minutes": totals.pending_minutes,
                "pending_entries": totals.pending_entries,
                "rejected_entries": totals.rejected_entries,
            },
        },
    )


@bp.get("/me/training")
@operation(
    "My training hours (学时) this year: the total against the bar, and what counted",
    {200: (shapes.MyTraining, "My year")},
    errors=MEMBER,
)
def training_mine() -> Response:
    query()
    found = t.my_training(member(), now=utcnow(), settings=settings())
    items = [
        {
            "day": day_text(c.day),
            "kind": c.kind,
            "kind_label": c.kind_label,
            "title": c.title,
            "minutes": c.minutes,
        }
        for c in found.items
    ]
    return render_as(shapes.MyTraining, {**_year(found.hours), "items": items})


# ---- managers ---------------------------------------------------------------------------------


@bp.get("/volunteer")
@operation(
    "A branch's volunteer entries (managers), waiting ones first",
    {200: (shapes.VolunteerBranchPage, "Entries")},
    errors=MEMBER,
    query=shapes.VolunteerListQuery,
    description="Filters: status, month. Committee admins pass branch_id.",
)
def volunteer_list() -> Response:
    args = query(shapes.VolunteerListQuery)
    paging = _paging(args)
    page = v.branch_entries(member(), args.pop("branch_id", None), **args, **paging)
    return render_as(
        shapes.VolunteerBranchPage,
        {
            "branch": {"id": page.branch.id, "name": page.branch.name},
            "items": [_entry(i.entry, i.member_name) for i in page.items],
            "total": page.total,
            "limit": page.limit,
            "offset": page.offset,
            "pending": page.pending,
        },
    )


@bp.post("/volunteer/<id:entry_id>/confirm")
@operation(
    "Confirm a volunteer entry (managers): its hours count from now on",
    {200: (shapes.VolunteerEntry, "Confirmed")},
    errors=WRITE,
    description="409 already_decided for an entry confirmed or sent back already.",
)
def volunteer_confirm(entry_id: int) -> Response:
    body()
    found = v.confirm_entry(member(), entry_id, now=utcnow(), settings=settings())
    return render_as(shapes.VolunteerEntry, _entry(found.entry, found.member_name))


@bp.post("/volunteer/<id:entry_id>/reject")
@operation(
    "Send a volunteer entry back with the reason (managers); the member is told",
    {200: (shapes.VolunteerEntry, "Sent back")},
    errors=WRITE,
    json=shapes.VolunteerRejectRequest,
    description="409 already_decided for an entry confirmed or sent back already.",
)
def volunteer_reject(entry_id: int) -> Response:
    reason = body(shapes.VolunteerRejectRequest)["reason"]
    found = v.reject_entry(member(), entry_id, reason, now=utcnow(), settings=settings())
    return render_as(shapes.VolunteerEntry, _entry(found.entry, found.member_name))


@bp.get("/training")
@operation(
    "Each party member of a branch with their training hours this year (managers)",
    {200: (shapes.TrainingBranchPage, "Members, by id")},
    errors=MEMBER,
    query=shapes.TrainingListQuery,
)
def training_list() -> Response:
    args = query(shapes.TrainingListQuery)
    paging = _paging(args)
    found = t.branch_training(
        member(), args.pop("branch_id", None), now=utcnow(), settings=settings(), **paging
    )
    items = [
        {"member": {"id": i.member_id, "name": i.name}, **_year(i.hours)} for i in found.items
    ]
    for item in items:
        del item["year"], item["required_hours"]
    return render_as(
        shapes.TrainingBranchPage,
        {
            "branch": {"id": found.branch.id, "name": found.branch.name},
            "year": found.year,
            "required_hours": found.required_hours,
            "average_hours": found.together.average_hours,
            "below": found.together.below,
            "items": items,
            "total": found.total,
            "limit": found.limit,
            "offset": found.offset,
        },
    )


@bp.post("/training")
@operation(
    "Record other training (a county course) for members of a branch (managers)",
    {201: (shapes.TrainingCreated, "One record per member")},
    errors=WRITE,
    json=shapes.TrainingCreateRequest,
    description="422 member_not_in_branch for a member of another branch.",
)
def training_create() -> tuple[Response, int]:
    data = body(shapes.TrainingCreateRequest)
    me = member()
    rows = t.add_training(
        me,
        data.pop("branch_id", None),
        now=utcnow(),
        settings=settings(),
        **data,
    )
    records = [
        {
            "id": r.record.id,
            "member": {"id": r.record.member_id, "name": r.member_name},
            "title": r.record.title,
            "day": day_text(r.record.day),
            "minutes": r.record.minutes,
            "hours": v.hours_number(r.record.minutes),
        }
        for r in rows
    ]
    return render_as(shapes.TrainingCreated, {"count": len(rows), "records": records}), 201
