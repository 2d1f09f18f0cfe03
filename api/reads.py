"""/api/v1 route of the read log (查阅记录): the committee admin's list of who opened a
member's detail or downloaded a file naming members."""

from __future__ import annotations

from typing import Any

from flask import Response

from api.common import DEFAULT_LIMIT, bp, iso, member, query, render_as, settings
from api.openapi import operation
from api.shapes import reads as shapes
from handlers.privacy.reads import Read, ReadFilter, read_log
from models.audit import DOOR_LABELS


def _read(read: Read) -> dict[str, Any]:
    e = read.entry
    branch = {"id": e.branch_id, "name": read.branch_name} if e.branch_id is not None else None
    return {
        "id": e.id,
        "at": iso(e.at),
        "actor_id": e.actor_id,
        "actor_name": e.actor_name,
        "door": e.door,
        "door_label": DOOR_LABELS.get(e.door, e.door),
        "kind": e.kind,
        "kind_label": read.kind_label,
        "branch": branch,
        "subject": e.subject,
        "member_id": read.member_id,
        "members": e.members,
        "full_phones": e.full_phones,
    }


@bp.get("/committee/reads")
@operation(
    "Committee admins: the read log (查阅记录), who looked at members, newest first",
    {200: (shapes.ReadsPage, "Reads of the committee's branches and files")},
    errors=("400", "401", "403"),
    query=shapes.ReadsQuery,
    description="Every opening of a member's detail (console member page, development record "
    "in the console or here) and every download naming members (roster, dues ledger, record "
    "book, a branch's monthly report; console, API, command line), with who, when, the door "
    "and the members named. Filter by member (member_id, or part of the name), by manager "
    "(manager_id, or part of the name) and by local days. Branch secretaries get 403.",
)
def committee_reads() -> Response:
    args = query(shapes.ReadsQuery)
    limit, offset = args.get("limit") or DEFAULT_LIMIT, args.get("offset") or 0
    wanted = ReadFilter(
        member_id=args.get("member_id"),
        member_name=args.get("member") or "",
        actor_id=args.get("manager_id"),
        actor_name=args.get("manager") or "",
        since=args.get("since"),
        until=args.get("until"),
    )
    page = read_log(member(), wanted, limit=limit, offset=offset, settings=settings())
    answer = {
        "items": [_read(r) for r in page.reads],
        "total": page.total,
        "limit": limit,
        "offset": offset,
    }
    return render_as(shapes.ReadsPage, answer)
