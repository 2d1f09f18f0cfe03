"""The secretary's notice about a dead row: one outbox message to the branch's manager."""

from __future__ import annotations

import logging
from datetime import datetime

from handlers.outbox.intake import enqueue
from models.org import Member
from models.outbox import DEAD_NOTICE_KIND, OutboxMessage

log = logging.getLogger(__name__)

# Who hears about a dead row: the first branch member holding one of these roles, in order.
NOTICE_ROLES = ("secretary", "deputy_secretary", "organizer")
# Names of message kinds for the secretary's notices (a payload "title" wins).
KIND_LABELS: dict[str, str] = {
    "study_prompt": "学习提醒",
    "study_nudge": "学习督促",
    "study_summary": "每周学习小结",
    "meeting_reminder": "会议提醒",
    "meeting_summary": "会议情况",
    "dues_reminder": "党费提醒",
    "dues_personal": "党费个人提醒",
    "secretary_digest": "书记待办",
    "committee_digest": "党委待办",
    "monthly_report": "党委月报",
    "volunteer_prompt": "志愿服务提醒",
    "rectification_due": "整改提醒",
    "rectification_refused": "整改退回",
    "volunteer_rejected": "志愿服务退回通知",
    "term_due": "换届提醒",
    "development_due": "发展党员提醒",
    "pay_confirmed": "党费到账",
    "pay_problem": "微信支付异常",
    "pay_refunded": "党费退款",
    "collector_digest": "收缴员待办",
    DEAD_NOTICE_KIND: "消息未送达通知",
}


def generic_reason(message: str, attempts: int) -> str:
    """Return the reason told for a row that failed ``attempts`` times with ``message``."""
    return f"已尝试 {attempts} 次仍未成功（{message}）"


def notice_recipient(branch_id: int) -> Member | None:
    """Return who hears about dead rows of a branch: its secretary, else deputy, else organizer."""
    managers = [
        m
        for m in Member.select().where(Member.branch == branch_id, Member.roles != "")
        if m.has_role(*NOTICE_ROLES)
    ]
    for role in NOTICE_ROLES:
        for m in sorted(managers, key=lambda m: m.id):
            if role in m.role_set:
                return m
    return None


def notify_secretary(row: OutboxMessage, reason: str, now: datetime) -> None:
    """Enqueue one notice (keyed by the dead row) to the branch secretary; never for a notice."""
    if row.kind == DEAD_NOTICE_KIND:
        log.warning("Dead-row notice %s itself died; not noticing it again", row.id)
        return
    recipient = notice_recipient(row.branch_id)
    if recipient is None:
        log.warning("Outbox row %s died and branch %s has no secretary to tell", row.id,
                    row.branch_id)  # fmt: skip
        return
    title = row.data.get("title") or KIND_LABELS.get(row.kind, row.kind)
    whom = "支部群" if row.target_type == "branch" else "一名党员"
    text = (
        f"【消息未送达】发往{whom}的“{title}”没有发出去：{reason}。"
        f"请检查通知渠道设置；可用 flask --app app outbox list --status dead 查看。"
    )
    enqueue(
        DEAD_NOTICE_KIND,
        "member",
        recipient.id,
        f"row-{row.id}",
        {"title": "消息未送达", "text": text},
        branch_id=row.branch_id,
        now=now,
    )
