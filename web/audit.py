"""The console's audit log: every change managers made, for the committee admin to read."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import request

from handlers.audit import ACTIONS, committee_log
from models.audit import DOOR_LABELS
from web.common import bp, page, tz, user

ENTRIES_PER_PAGE = 50

# The recorded fields as the page names them (others show under their own name).
FIELD_LABELS = {
    "kind": "类型",
    "title": "主题",
    "place": "地点",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "host_id": "主持人编号",
    "recorder_id": "记录人编号",
    "minutes": "会议纪要",
    "decisions": "会议决议",
    "status": "状态",
    "expected": "应到人数",
    "present": "补签人员",
    "member_id": "党员编号",
    "leave_status": "请假状态",
}


@bp.app_template_filter("local_time")
def _local_time(moment: datetime) -> str:
    return f"{moment.astimezone(tz()):%Y-%m-%d %H:%M}"


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "（空）"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, before, after) for every recorded field, in the order they were recorded."""
    keys = list(dict.fromkeys([*before, *after]))
    return [(FIELD_LABELS.get(k, k), _shown(before.get(k)), _shown(after.get(k))) for k in keys]


@bp.get("/audit")
def audit() -> Any:
    """The committee's audit log, newest first, by branch and kind of change."""
    args = request.args
    branch_id = args.get("branch", type=int)
    kind = args.get("kind") or ""
    offset = max(args.get("offset", 0, type=int) or 0, 0)
    view = committee_log(
        user().member,
        branch_id=branch_id,
        action=kind[:40] or None,
        limit=ENTRIES_PER_PAGE,
        offset=offset,
    )
    rows = [
        {
            "entry": e.entry,
            "branch": e.branch_name,
            "door": DOOR_LABELS.get(e.entry.door, e.entry.door),
            "action": ACTIONS.get(e.entry.action, e.entry.action),
            "changes": _changes(e.before, e.after),
        }
        for e in view.entries
    ]
    filters = {"branch": branch_id or "", "kind": kind}
    return page(
        "audit.html",
        view=view,
        rows=rows,
        filters=filters,
        offset=offset,
        per_page=ENTRIES_PER_PAGE,
    )
