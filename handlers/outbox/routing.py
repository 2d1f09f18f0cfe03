"""Routing: which channel reaches a branch's group or a member, and at which address."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from peewee import JOIN

from core.config import Settings
from models.org import LEFT, Member
from models.outbox import (
    BranchChannel,
    MemberContact,
    OutboxMessage,
    SubscribeCredit,
    mask_target,
    secret_digest,
)
from models.wechat import WechatBinding

NO_PERSONAL_CHANNEL = (
    "该党员没有可用的个人通知渠道（未登记企业微信账号、未关注公众号、也没有小程序订阅额度）"
)
NO_GROUP_CHANNEL = "该支部没有设置群通知渠道（flask --app app channels set）"
NO_CREDIT = "该党员的小程序订阅消息额度已用完"


@dataclass(frozen=True)
class Address:
    """Where and how a row is sent; ``target`` (robot key, chat id, userid, openid) is secret."""

    channel: str
    target: str = field(repr=False)
    label: str  # safe for logs: no key, no chat id, no phone number
    lane: str  # rows of one lane are sent in order by one thread
    rate_bucket: str | None = None  # group robots: the sliding-window bucket of the key
    mentioned_userids: tuple[str, ...] = ()
    mentioned_mobiles: tuple[str, ...] = field(default=(), repr=False)
    template_id: str = ""


@dataclass(frozen=True)
class Skip:
    """The row has nowhere to go: it is marked ``skipped`` with this reason."""

    reason: str


def robot_bucket(key: str) -> str:
    """Return the rate-limit bucket of a robot key (a digest: the key never leaves the row)."""
    return "robot:" + secret_digest(key)


def _mention_ids(row: OutboxMessage) -> list[int]:
    ids = row.data.get("mention_member_ids") or []
    return [i for i in ids if isinstance(i, int) and not isinstance(i, bool)]


def resolve_addresses(
    rows: Sequence[OutboxMessage], settings: Settings
) -> dict[int, Address | Skip]:
    """Pick each row's channel and address, in a constant number of queries per batch.

    A branch row goes to the branch's group channel. A member row goes to the first the member
    has of: a WeCom userid (when a WeCom app is configured) > an official-account openid (when
    a template is configured) > a mini-program openid with a subscribe credit (or one already
    taken for this row) > the console (only with ``channels.personal_fallback = "console"``)
    > nothing: skipped, with the reason, and nobody is alarmed (the member must bind first).
    """
    branch_rows = [r for r in rows if r.target_type == "branch"]
    member_rows = [r for r in rows if r.target_type == "member"]
    group = _group_channels(branch_rows)
    mention_ids = {
        i
        for r in branch_rows
        if (c := group.get(r.target_id)) is not None and c.mention and c.kind == "wecom_robot"
        for i in _mention_ids(r)
    }
    people = _people({r.target_id for r in member_rows} | mention_ids)
    out: dict[int, Address | Skip] = {}
    for row in branch_rows:
        out[row.id] = _group_address(row, group.get(row.target_id), people)
    if member_rows:
        out.update(_member_addresses(member_rows, people, settings.channels))
    return out


def _group_channels(branch_rows: Sequence[OutboxMessage]) -> dict[int, BranchChannel]:
    if not branch_rows:
        return {}
    return {
        c.branch_id: c
        for c in BranchChannel.select().where(
            BranchChannel.branch.in_({r.target_id for r in branch_rows})
        )
    }


def _people(person_ids: set[int]) -> dict[int, tuple[str, str | None]]:
    """Return each member's phone and WeCom userid (None when unknown)."""
    if not person_ids:
        return {}
    query = (
        Member.select(Member.id, Member.phone, MemberContact.wecom_userid)
        .join(MemberContact, JOIN.LEFT_OUTER, on=MemberContact.member == Member.id)
        .where(Member.id.in_(person_ids), Member.status != LEFT)  # who left is not mentioned
        .tuples()
    )
    return {mid: (phone, userid) for mid, phone, userid in query}


def _group_address(
    row: OutboxMessage,
    c: BranchChannel | None,
    people: dict[int, tuple[str, str | None]],
) -> Address | Skip:
    """Return the address of a branch row on its branch's group channel."""
    if c is None or not c.kind:
        return Skip(NO_GROUP_CHANNEL)
    label = f"branch {row.target_id} {c.kind}"
    if c.kind == "wecom_robot":
        userids: list[str] = []
        mobiles: list[str] = []
        if c.mention:
            for mid in _mention_ids(row):
                phone, userid = people.get(mid, ("", None))
                if userid:
                    userids.append(userid)
                elif phone:
                    mobiles.append(phone)
            if row.data.get("mention_all") is True:
                userids.append("@all")
        bucket = robot_bucket(c.target)
        return Address(
            "wecom_robot",
            c.target,
            f"{label} {mask_target(c.target)}",
            lane=bucket,
            rate_bucket=bucket,
            mentioned_userids=tuple(userids),
            mentioned_mobiles=tuple(mobiles),
        )
    if c.kind == "wecom_appchat":
        lane = "appchat:" + secret_digest(c.target)
        return Address("wecom_appchat", c.target, label, lane=lane)
    return Address("console", "", label, lane=f"console:{row.target_id}")


def _subscribe_credits(openids: dict[tuple[int, str], str], subscribe_id: str) -> dict[str, int]:
    mini = [o for (_, app), o in openids.items() if app == "mini"]
    if not (subscribe_id and mini):
        return {}
    return {
        c.openid: c.credits
        for c in SubscribeCredit.select().where(
            SubscribeCredit.openid.in_(mini), SubscribeCredit.template_id == subscribe_id
        )
    }


def _member_addresses(
    member_rows: Sequence[OutboxMessage],
    people: dict[int, tuple[str, str | None]],
    channels: Mapping[str, Any],
) -> dict[int, Address | Skip]:
    """Return the address of each member row on the member's best personal channel."""
    member_ids = {r.target_id for r in member_rows}
    openids: dict[tuple[int, str], str] = {
        (b.member_id, b.app): b.openid
        for b in WechatBinding.select().where(WechatBinding.member.in_(member_ids))
    }
    template_id = channels.template_id
    subscribe_id = channels.subscribe_template_id
    credits = _subscribe_credits(openids, subscribe_id)
    wecom_app = bool(channels.wecom_corp_id and channels.wecom_agent_id)
    out: dict[int, Address | Skip] = {}
    for row in member_rows:
        mid = row.target_id
        lane = f"member:{mid}"
        label = f"member {mid}"
        _phone, userid = people.get(mid, ("", None))
        oa = openids.get((mid, "oa"))
        mp = openids.get((mid, "mini"))
        if wecom_app and userid:
            out[row.id] = Address("wecom_app", userid, f"{label} wecom_app", lane=lane)
        elif template_id and oa:
            out[row.id] = Address(
                "template", oa, f"{label} template", lane=lane, template_id=template_id
            )
        elif subscribe_id and mp and (row.credit_spent or credits.get(mp, 0) > 0):
            out[row.id] = Address(
                "subscribe", mp, f"{label} subscribe", lane=lane, template_id=subscribe_id
            )
        elif channels.personal_fallback == "console":
            out[row.id] = Address("console", "", f"{label} console", lane=lane)
        elif subscribe_id and mp:
            out[row.id] = Skip(NO_CREDIT)
        else:
            out[row.id] = Skip(NO_PERSONAL_CHANNEL)
    return out
