"""Subscribe credits, branch channels, members' WeCom accounts and dead-row counts: the
outbox's settings and views for the mini-program, the CLI and the console."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from peewee import fn

from handlers.audit import changed, record
from handlers.errors import NotFound
from handlers.roster.lookups import branch_named
from models.base import write_tx
from models.org import Member
from models.outbox import GROUP_KINDS, BranchChannel, MemberContact, OutboxMessage, SubscribeCredit

# ----- subscribe credits (the mini-program reports accepts) --------------------------------


def add_subscribe_credits(openid: str, template_id: str, now: datetime, n: int = 1) -> int:
    """Record ``n`` accepts of a subscribe template by a mini-program user; return the total."""
    if n < 1:
        raise ValueError("n must be at least 1")
    with write_tx():
        SubscribeCredit.insert(
            openid=openid, template_id=template_id, credits=n, updated_at=now
        ).on_conflict(
            conflict_target=[SubscribeCredit.openid, SubscribeCredit.template_id],
            update={
                SubscribeCredit.credits: SubscribeCredit.credits + n,
                SubscribeCredit.updated_at: now,
            },
        ).execute()
        row = SubscribeCredit.get(
            SubscribeCredit.openid == openid, SubscribeCredit.template_id == template_id
        )
    return row.credits


def take_subscribe_credit(openid: str, template_id: str, now: datetime) -> bool:
    """Spend one credit atomically (UPDATE ... WHERE credits > 0); False when none is left."""
    with write_tx():
        taken = (
            SubscribeCredit.update(credits=SubscribeCredit.credits - 1, updated_at=now)
            .where(
                SubscribeCredit.openid == openid,
                SubscribeCredit.template_id == template_id,
                SubscribeCredit.credits > 0,
            )
            .execute()
        )
    return taken > 0


# ----- channels and contacts, for the CLI and the console ----------------------------------


def set_branch_channel(
    branch_id: int,
    kind: str,
    target: str,
    now: datetime,
    *,
    mention: bool | None = None,
    nudge_enabled: bool | None = None,
    volunteer_enabled: bool | None = None,
    actor: Member | None = None,
) -> BranchChannel:
    """Create or replace a branch's group channel; flags left None keep their value.

    ``actor`` is the manager who made the change (None: the server operator)."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"channel kind must be one of {', '.join(GROUP_KINDS)}")
    if kind != "console" and not target.strip():
        raise ValueError("a robot key or chat id is required")
    with write_tx():
        channel = BranchChannel.get_or_none(BranchChannel.branch == branch_id)
        before = _channel_fields(channel) if channel is not None else {}
        old_target = channel.target if channel is not None else ""
        if channel is None:
            channel = BranchChannel(branch=branch_id)
        channel.kind = kind
        channel.target = target.strip() if kind != "console" else ""
        for name, value in (
            ("mention", mention),
            ("nudge_enabled", nudge_enabled),
            ("volunteer_enabled", volunteer_enabled),
        ):
            if value is not None:
                setattr(channel, name, value)
        channel.updated_at = now
        channel.save()
        _record_channel(channel, before, old_target, now, actor)
    return channel


def _channel_fields(channel: BranchChannel) -> dict[str, Any]:
    """A channel as the audit log shows it: its robot key or chat id only masked."""
    return {
        "kind": channel.kind,
        "target": "****" if channel.target else "",
        "mention": channel.mention,
        "nudge_enabled": channel.nudge_enabled,
        "volunteer_enabled": channel.volunteer_enabled,
    }


def _record_channel(
    channel: BranchChannel,
    before: dict[str, Any],
    old_target: str,
    now: datetime,
    actor: Member | None,
) -> None:
    """Record the operator's change of a branch's channel; a new key shows only as changed."""
    old, new = changed(before, _channel_fields(channel))
    if channel.target != old_target and "target" not in new:
        old["target"], new["target"] = "****（原）", "****（新）"
    if not new:
        return
    record(
        actor,
        "channel.set",
        summary=f"设置通知渠道：{GROUP_KINDS.get(channel.kind, channel.kind)}",
        target=f"branch:{channel.branch_id}",
        branch_id=channel.branch_id,
        before=old,
        after=new,
        now=now,
    )


def set_wecom_userid(member_id: int, userid: str | None, now: datetime) -> None:
    """Record (or clear, with None) a member's WeCom userid."""
    with write_tx():
        MemberContact.insert(member=member_id, wecom_userid=userid, updated_at=now).on_conflict(
            conflict_target=[MemberContact.member],
            update={MemberContact.wecom_userid: userid, MemberContact.updated_at: now},
        ).execute()


# (the branch's current channel or None) -> the (kind, target) to set; may refuse by raising
ChannelChoice = Callable[[BranchChannel | None], tuple[str, str]]


@dataclass(frozen=True)
class WecomAccount:
    member_name: str
    wecom_userid: str | None  # None: cleared


def set_channel_of_branch(
    branch_name: str,
    choose: ChannelChoice,
    now: datetime,
    *,
    mention: bool | None = None,
    nudge_enabled: bool | None = None,
    volunteer_enabled: bool | None = None,
) -> BranchChannel:
    """Set the group channel of the branch of that name to what ``choose`` makes of the current.

    ``choose`` sees the current channel (None if unset) once the branch is found, so a caller
    that keeps the current kind, or reads a secret target, does so only for a real branch.
    """
    branch = branch_named(branch_name)
    kind, target = choose(BranchChannel.get_or_none(BranchChannel.branch == branch.id))
    return set_branch_channel(
        branch.id,
        kind,
        target,
        now,
        mention=mention,
        nudge_enabled=nudge_enabled,
        volunteer_enabled=volunteer_enabled,
    )


def set_wecom_userid_by_phone(phone: str, userid: str | None, now: datetime) -> WecomAccount:
    """Record (or clear, with None) the WeCom userid of the member with that mobile number."""
    member = Member.get_or_none(Member.phone == phone.strip())
    if member is None:
        raise NotFound("花名册里没有这个手机号。")
    set_wecom_userid(member.id, userid, now)
    contact = MemberContact.get(MemberContact.member == member.id)
    return WecomAccount(member.name, contact.wecom_userid)


def dead_counts(branch_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Return the number of dead rows per branch (one query), for digests and the console."""
    query = (
        OutboxMessage.select(OutboxMessage.branch, fn.COUNT(OutboxMessage.id))
        .where(OutboxMessage.status == "dead")
        .group_by(OutboxMessage.branch)
        .tuples()
    )
    if branch_ids is not None:
        query = query.where(OutboxMessage.branch.in_(list(branch_ids)))
    return dict(query)
