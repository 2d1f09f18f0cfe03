"""A branch's managers read its volunteer entries and confirm them, or send one back with a
reason, which the member is told through their personal channel (the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from core.config import Settings
from handlers.audit import record
from handlers.branches import branch_acted_for
from handlers.errors import Conflict
from handlers.outbox import enqueue
from handlers.volunteer.base import (
    EXAMPLE,
    checked_text,
    day_text,
    hours_text,
    managed_entry,
)
from models.base import write_tx
from models.org import BRANCH_MANAGERS, Branch, Member
from models.volunteer import STATUSES, VolunteerEntry

REJECTED_KIND = "volunteer_rejected"


@dataclass(frozen=True)
class EntryView:
    entry: VolunteerEntry
    member_name: str


@dataclass(frozen=True)
class BranchEntries:
    branch: Branch
    items: list[EntryView]  # waiting ones first, then newest first
    total: int
    limit: int
    offset: int
    pending: int  # entries waiting in the branch, whatever the filter


def describe(entry: VolunteerEntry) -> str:
    """An entry in one line: 2026年11月28日 2小时 社区清扫."""
    return f"{day_text(entry.day)} {hours_text(entry.minutes)} {entry.description}"


def branch_entries(
    actor: Member,
    branch_id: int | None,
    *,
    status: str | None = None,
    month: date | None = None,
    limit: int,
    offset: int,
) -> BranchEntries:
    """The branch's entries for its managers, filtered by status and month (its first day)."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    where = [VolunteerEntry.branch == branch.id]
    if status in STATUSES:
        where.append(VolunteerEntry.status == status)
    if month is not None:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        where += [VolunteerEntry.day >= month, VolunteerEntry.day < following]
    query = VolunteerEntry.select(VolunteerEntry, Member.name).join(
        Member, on=VolunteerEntry.member == Member.id, attr="logged_by"
    )
    rows = (
        query.where(*where)
        .order_by(
            (VolunteerEntry.status != "pending"),
            VolunteerEntry.day.desc(),
            VolunteerEntry.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    items = [EntryView(row, row.logged_by.name) for row in rows]
    total = VolunteerEntry.select().where(*where).count()
    pending = (
        VolunteerEntry.select()
        .where(VolunteerEntry.branch == branch.id, VolunteerEntry.status == "pending")
        .count()
    )
    return BranchEntries(branch, items, total, limit, offset, pending)


def _decided(entry: VolunteerEntry) -> Conflict:
    return Conflict(
        f"这条志愿服务登记（{describe(entry)}）{entry.status_label}，无需再处理。",
        errcode="already_decided",
    )


def _decide(entry: VolunteerEntry, actor: Member, now: datetime, **values: object) -> None:
    """Set the decision if the entry is still waiting (of two managers at once, one is told)."""
    won = (
        VolunteerEntry.update(decided_by=actor.id, decided_at=now, **values)
        .where(VolunteerEntry.id == entry.id, VolunteerEntry.status == "pending")
        .execute()
    )
    if not won:
        raise _decided(VolunteerEntry.get_by_id(entry.id))
    for name, value in {"decided_by": actor.id, "decided_at": now, **values}.items():
        setattr(entry, name if name != "decided_by" else "decided_by_id", value)


def _member_name(entry: VolunteerEntry) -> str:
    return Member.select(Member.name).where(Member.id == entry.member_id).scalar() or ""


def confirm_entry(
    actor: Member,
    entry_id: int,
    *,
    branch_id: int | None = None,
    now: datetime,
    settings: Settings,
) -> EntryView:
    """Confirm an entry: its hours count in the branch's totals from now on. ``branch_id``
    (the console's address): an entry of another branch is not found."""
    entry = managed_entry(actor, entry_id, branch_id)
    if entry.status != "pending":
        raise _decided(entry)
    name = _member_name(entry)
    with write_tx():
        _decide(entry, actor, now, status="confirmed")
        record(
            actor,
            "volunteer.confirm",
            summary=f"确认志愿服务：{name} {describe(entry)}",
            target=f"volunteer:{entry.id}",
            branch_id=entry.branch_id,
            before={"status": "pending"},
            after={"status": "confirmed", "minutes": entry.minutes},
            now=now,
        )
    return EntryView(entry, name)


def reject_entry(
    actor: Member,
    entry_id: int,
    reason: str,
    *,
    branch_id: int | None = None,
    now: datetime,
    settings: Settings,
) -> EntryView:
    """Send an entry back with the reason; the member is told through their own channel.
    ``branch_id`` as confirm_entry's."""
    entry = managed_entry(actor, entry_id, branch_id)
    if entry.status != "pending":
        raise _decided(entry)
    reason = checked_text("退回原因", reason, settings.volunteer.reason_max_chars)
    name = _member_name(entry)
    text = (
        f"您登记的志愿服务（{describe(entry)}）被支部退回：{reason}。"
        f"核实后可重新登记，例如发送“{EXAMPLE} {entry.day.month}月{entry.day.day}日”；"
        "如有疑问请联系支部书记。"
    )
    with write_tx():
        _decide(entry, actor, now, status="rejected", reason=reason)
        record(
            actor,
            "volunteer.reject",
            summary=f"退回志愿服务：{name} {describe(entry)}，原因：{reason}",
            target=f"volunteer:{entry.id}",
            branch_id=entry.branch_id,
            before={"status": "pending"},
            after={"status": "rejected", "reason": reason},
            now=now,
        )
        enqueue(
            REJECTED_KIND,
            "member",
            entry.member_id,
            f"entry-{entry.id}",
            {"title": "志愿服务登记被退回", "text": text},
            branch_id=entry.branch_id,
            now=now,
        )
    return EntryView(entry, name)
