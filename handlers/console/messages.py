"""The console's messages: what was sent to the branch's group and members, undelivered ones
sent again, and the branch's group channel (its secret shown masked, never back in full)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from handlers.audit import record
from handlers.branches import branch_acted_for
from handlers.errors import Conflict, Invalid, NotFound
from handlers.outbox.contacts import set_branch_channel
from handlers.outbox.notices import KIND_LABELS
from models.base import write_tx
from models.org import BRANCH_MANAGERS, Branch, Member
from models.outbox import GROUP_KINDS, STATUSES, BranchChannel, OutboxMessage

log = logging.getLogger(__name__)

STATUS_LABELS = {
    "pending": "等待发送",
    "sending": "发送中",
    "sent": "已发送",
    "dead": "未能送达",
    "skipped": "未发送（无可用渠道）",
}


@dataclass(frozen=True)
class MessageRow:
    message: OutboxMessage
    to: str  # 本支部群 or the member's name
    title: str
    text: str


@dataclass(frozen=True)
class MessagesPage:
    branch: Branch
    rows: list[MessageRow]
    total: int
    dead: int
    channel: BranchChannel | None


def branch_messages(
    actor: Member, branch_id: int | None, *, status: str | None, limit: int, offset: int
) -> MessagesPage:
    """The branch's messages, newest first (of one status if given), with whom each was for."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    query = OutboxMessage.select().where(OutboxMessage.branch == branch.id)
    if status in STATUSES:
        query = query.where(OutboxMessage.status == status)
    total = query.count()
    messages = list(query.order_by(OutboxMessage.id.desc()).limit(limit).offset(offset))
    member_ids = {m.target_id for m in messages if m.target_type == "member"}
    names = dict(
        Member.select(Member.id, Member.name).where(Member.id.in_(list(member_ids))).tuples()
    )
    rows = []
    for message in messages:
        data = message.data
        to = "本支部群" if message.target_type == "branch" else names.get(message.target_id, "—")
        title = data.get("title") or KIND_LABELS.get(message.kind, message.kind)
        rows.append(MessageRow(message, to, title, str(data.get("text", ""))))
    dead = (
        OutboxMessage.select()
        .where(OutboxMessage.branch == branch.id, OutboxMessage.status == "dead")
        .count()
    )
    channel = BranchChannel.get_or_none(BranchChannel.branch == branch.id)
    return MessagesPage(branch, rows, total, dead, channel)


def send_again(actor: Member, branch_id: int | None, message_id: int, *, now: datetime) -> None:
    """Queue an undelivered message once more, with its attempts counted afresh."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    with write_tx():
        message = OutboxMessage.get_or_none(
            OutboxMessage.id == message_id, OutboxMessage.branch == branch.id
        )
        if message is None:
            raise NotFound("没有找到这条消息。")
        if message.status != "dead":
            raise Conflict("只有未能送达的消息可以重新发送。", errcode="not_dead")
        if message.pruned_at is not None:
            raise Conflict(
                "这条消息的内容已超过保存期限被删除，不能重新发送。如仍需通知，请重新发布。",
                errcode="message_pruned",
            )
        OutboxMessage.update(status="pending", attempts=0, next_attempt_at=now).where(
            OutboxMessage.id == message.id
        ).execute()
        title = message.data.get("title") or KIND_LABELS.get(message.kind, message.kind)
        record(
            actor,
            "message.send_again",
            summary=f"重新发送未送达的消息：{title}",
            target=f"outbox:{message.id}",
            branch_id=branch.id,
            before={"status": "dead", "attempts": message.attempts},
            after={"status": "pending", "attempts": 0},
            now=now,
        )
    log.info("outbox row %s queued again by member id=%s", message_id, actor.id)


def set_channel(
    actor: Member,
    branch_id: int | None,
    *,
    kind: str,
    target: str,
    mention: bool,
    nudge: bool,
    volunteer: bool,
    now: datetime,
) -> BranchChannel:
    """Set the branch's group channel. An empty ``target`` keeps the current secret when the
    kind stays the same (the form never shows it back)."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    if kind not in GROUP_KINDS:
        raise Invalid("请选择群通知渠道。")
    current = BranchChannel.get_or_none(BranchChannel.branch == branch.id)
    target = target.strip()
    if not target and kind != "console":
        if current is None or current.kind != kind or not current.target:
            label = (
                "群机器人的 Webhook 密钥（key）" if kind == "wecom_robot" else "群聊 ID（chatid）"
            )
            raise Invalid(f"请填写{label}。")
        target = current.target
    if len(target) > 200 or not target.isprintable() or any(c.isspace() for c in target):
        raise Invalid(
            "密钥或群聊 ID 不对：应为不含空格和控制字符的一串字母数字，最长 200 个字符。"
        )
    channel = set_branch_channel(
        branch.id,
        kind,
        target,
        now,
        mention=mention,
        nudge_enabled=nudge,
        volunteer_enabled=volunteer,
        actor=actor,
    )
    log.info("group channel of branch %s set to %s by member id=%s", branch.id, kind, actor.id)
    return channel
