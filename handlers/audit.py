"""The audit log: every change a manager makes, through whichever door, recorded with who,
when, what, and the changed fields before and after; the committee admin reads it.

A use case calls ``record`` inside its own write transaction, after its change, so that the
change and its record commit together or not at all. Only the fields that changed are kept,
never a secret (binding codes, robot keys) or a full phone number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from core.doors import current_door
from handlers.errors import Forbidden, NotFound
from models.audit import OPERATOR_NAME, AuditEntry
from models.org import Branch, Member

# The roster's refusals (handlers.roster.access), worded alike; not imported from there since
# the roster's own use cases record here.
FORBIDDEN = "没有权限进行此操作。"
NOT_FOUND = "请求的资源不存在，或您无权查看。"

# The kinds of change the console filters by: the part of the action before its dot.
KINDS: dict[str, str] = {
    "meeting": "会议",
    "dues": "党费",
    "roster": "党员名册",
    "study": "学习计划",
    "channel": "通知渠道",
    "message": "消息",
    "rectification": "整改清单",
    "term": "换届",
    "contact": "失联党员",
    "volunteer": "志愿服务",
    "training": "学时",
    "development": "发展党员",
    "member": "组织关系",
}

# Every action recorded, as the console names it.
ACTIONS: dict[str, str] = {
    "meeting.schedule": "安排会议",
    "meeting.change": "修改会议",
    "meeting.cancel": "取消会议",
    "meeting.signin_open": "开启签到",
    "meeting.mark_present": "补签",
    "meeting.leave_decide": "审批请假",
    "dues.payment": "登记缴费",
    "dues.report_confirm": "确认缴费报告",
    "dues.report_reject": "驳回缴费报告",
    "dues.reverse": "冲正缴费",
    "dues.assessment": "核定党费",
    "dues.relief": "减免党费",
    "dues.import": "导入党费数据",
    "roster.import": "导入名册",
    "roster.codes": "生成绑定码",
    "roster.unbind": "解除绑定",
    "study.topic_add": "添加学习主题",
    "study.topic_change": "修改学习主题",
    "study.topic_remove": "删除学习主题",
    "study.plan_import": "导入学习计划",
    "channel.set": "设置通知渠道",
    "message.send_again": "重新发送消息",
    "rectification.create": "新增整改事项",
    "rectification.change": "修改整改事项",
    "rectification.status": "更新整改进度",
    "rectification.verify": "验收整改事项",
    "rectification.refuse": "退回整改事项",
    "term.record": "登记换届",
    "contact.outcome": "登记失联党员联系结果",
    "volunteer.confirm": "确认志愿服务",
    "volunteer.reject": "退回志愿服务",
    "training.add": "登记培训学时",
    "development.step": "登记发展党员步骤",
    "development.step_correct": "更正发展党员步骤",
    "development.step_remove": "删除发展党员步骤",
    "member.leave": "办理离开",
    "member.transfer": "转接组织关系",
}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not recordable in the audit log: {type(value).__name__}")


def _json(values: dict[str, Any] | None) -> str:
    if values is None:
        return ""
    return json.dumps(values, ensure_ascii=False, default=_plain, sort_keys=True)


def changed(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose values differ, before and after (what a change record keeps)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    actor: Member | None,
    action: str,
    *,
    summary: str,
    target: str = "",
    branch_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    now: datetime,
    committee_id: int | None = None,
) -> None:
    """Write one audit entry (inside the caller's transaction); ``actor`` None is the server
    operator at the command line. Values are JSON: dates as ISO text, money in fen. The
    committee is the branch's; ``committee_id`` names it for a change of no one branch."""
    if branch_id is not None:
        committee_id = Branch.select(Branch.committee).where(Branch.id == branch_id).scalar()
    AuditEntry.create(
        at=now,
        actor_id=actor.id if actor is not None else None,
        actor_name=(actor.name if actor is not None else OPERATOR_NAME)[:50],
        door=current_door(),
        action=action[:40],
        branch_id=branch_id,
        committee_id=committee_id,
        target=target[:60],
        summary=summary[:200],
        before=_json(before),
        after=_json(after),
    )


@dataclass(frozen=True)
class Entry:
    entry: AuditEntry
    branch_name: str
    before: dict[str, Any]
    after: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    entries: list[Entry]  # newest first
    total: int
    branches: list[Branch]  # the committee's, for the filter
    kinds: dict[str, str]


def _loads(text: str) -> dict[str, Any]:
    return json.loads(text) if text else {}


def committee_log(
    actor: Member,
    *,
    branch_id: int | None = None,
    action: str | None = None,
    limit: int,
    offset: int,
) -> AuditPage:
    """The audit entries of the committee admin's committee, newest first, filtered by branch
    and by kind of change (``meeting``) or exact action (``meeting.schedule``)."""
    if not actor.has_role("committee_admin"):
        raise Forbidden(FORBIDDEN, errcode="forbidden")
    committee_id = Branch.get_by_id(actor.branch_id).committee_id
    branches = list(
        Branch.select(Branch.id, Branch.name)
        .where(Branch.committee == committee_id)
        .order_by(Branch.id)
    )
    names = {b.id: b.name for b in branches}
    select = AuditEntry.select().where(AuditEntry.committee_id == committee_id)
    if branch_id is not None:
        if branch_id not in names:
            raise NotFound(NOT_FOUND, errcode="not_found")
        select = select.where(AuditEntry.branch_id == branch_id)
    if action:
        if "." in action:
            select = select.where(AuditEntry.action == action)
        else:
            select = select.where(AuditEntry.action.startswith(action + "."))
    total = select.count()
    rows = select.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit).offset(offset)
    entries = [
        Entry(e, names.get(e.branch_id, ""), _loads(e.before), _loads(e.after)) for e in rows
    ]
    return AuditPage(entries, total, branches, KINDS)
