"""The console's read log (查阅记录): who opened a member's detail or downloaded a file naming
members, for the committee admin to read."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import request

from handlers.errors import Invalid
from handlers.privacy.reads import ReadFilter, read_log
from models.audit import DOOR_LABELS
from web.common import bp, page, settings, user

NAME_CHARS = 50  # a name filter is cut to a name's length


def _day(name: str) -> date | None:
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"日期“{text[:20]}”的格式不对，应为 2026-12-07 这样的日期。") from None


@bp.get("/reads")
def reads() -> Any:
    """The committee's reads, newest first, by member, manager and days."""
    args = request.args
    member = (args.get("member") or "").strip()[:NAME_CHARS]
    manager = (args.get("manager") or "").strip()[:NAME_CHARS]
    offset = max(args.get("offset", 0, type=int) or 0, 0)
    per_page = settings().read_log.per_page
    wanted = ReadFilter(
        member_name=member, actor_name=manager, since=_day("since"), until=_day("until")
    )
    view = read_log(user().member, wanted, limit=per_page, offset=offset, settings=settings())
    filters = {
        "member": member,
        "manager": manager,
        "since": wanted.since.isoformat() if wanted.since else "",
        "until": wanted.until.isoformat() if wanted.until else "",
    }
    return page(
        "reads.html",
        view=view,
        doors=DOOR_LABELS,
        filters=filters,
        offset=offset,
        per_page=per_page,
        keep_days=settings().read_log.keep_days,
    )
