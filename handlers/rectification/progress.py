"""An item moving on: notes on progress, started, done (by its owner or a manager), verified
or sent back with a reason. Each use case writes in one transaction; a status changes only
from the one it was read in (compare and set), so of two people acting at once one is told."""

from __future__ import annotations

from datetime import datetime

from core.config import Settings
from handlers.errors import Conflict, DomainError, Forbidden, Invalid
from handlers.outbox import enqueue
from handlers.rectification.alerts import item_owners
from handlers.rectification.base import (
    NOT_ALLOWED,
    can_manage,
    checked_text,
    day_text,
    is_owner,
    local_today,
    managed_item,
    numbered_item,
    owner_label,
    require_change,
    require_verifier,
    short,
    visible_item,
)
from handlers.rectification.trail import item_fields, record_item_change
from handlers.rectification.views import ItemView, NoteView, Person, item_view, people
from models.base import write_tx
from models.org import Member
from models.rectification import RectificationItem, RectificationNote

MOVES = ("in_progress", "done")


def _note(item: RectificationItem, author: Member, kind: str, text: str, now: datetime) -> None:
    RectificationNote.create(item=item.id, author=author.id, kind=kind, text=text, at=now)


def _moved(item: RectificationItem, was: str, **values: object) -> None:
    """Set the item's values if its status is still ``was``; else the refusal."""
    won = (
        RectificationItem.update(**values)
        .where(RectificationItem.id == item.id, RectificationItem.status == was)
        .execute()
    )
    if not won:
        raise Conflict(f"编号 {item.number} 的整改事项刚刚已被他人处理，请刷新后查看。")
    for name, value in values.items():
        setattr(item, name, value)


def _closed_refusal(item: RectificationItem) -> DomainError | None:
    """Why a done or verified item cannot be marked done (or started) again, else None."""
    if item.status == "verified":
        return Conflict(
            f"编号 {item.number} 的整改事项已验收，无需再处理。", errcode="already_verified"
        )
    if item.status == "done":
        who = "党委管理员" if item.raised_by == "committee" else "支部书记"
        when = day_text(item.done_on) if item.done_on else "此前"
        return Conflict(
            f"编号 {item.number} 的整改事项已于 {when} 标记完成，等待{who}验收。",
            errcode="already_done",
        )
    return None


def add_note(
    actor: Member, item_id: int, text: str, *, now: datetime, settings: Settings
) -> NoteView:
    """A note on progress or evidence, by the item's owner or a manager of its branch."""
    item = visible_item(actor, item_id)
    if not is_owner(actor, item) and not can_manage(actor, item.branch):
        raise Forbidden(NOT_ALLOWED, errcode="forbidden")
    if item.status == "verified":
        raise Conflict(
            f"编号 {item.number} 的整改事项已验收，不能再添加记录。", errcode="already_verified"
        )
    text = checked_text("note", text, settings, required=True)
    with write_tx():
        note = RectificationNote.create(
            item=item.id, author=actor.id, kind="progress", text=text, at=now
        )
    return NoteView(note, Person(actor.id, actor.name))


def _finish(
    actor: Member, item: RectificationItem, text: str, *, now: datetime, settings: Settings
) -> None:
    """Mark the item done with what was done (inside the caller's transaction)."""
    refusal = _closed_refusal(item)
    if refusal is not None:
        raise refusal
    if not (text or "").strip():
        raise Invalid(
            "请写明完成情况：做了什么，有哪些材料可以佐证。",
            errcode="missing_field",
            chat_hint=f"例如：完成 {item.number} 已修订学习制度并在支部公示",
        )
    text = checked_text("note", text, settings, required=True)
    _moved(
        item,
        item.status,
        status="done",
        done_at=now,
        done_on=local_today(now, settings),
        updated_at=now,
    )
    _note(item, actor, "done", text, now)


def _owner_only(member: Member, item: RectificationItem) -> None:
    if not is_owner(member, item):
        names = {p.id: p.name for p in people([item.owner_id]).values()}
        raise Forbidden(
            f"编号 {item.number} 的整改事项不由您负责（责任人：{owner_label(item, names)}），"
            "只有责任人可以标记完成。",
            errcode="not_owner",
        )


def mark_done(
    member: Member, item_id: int, text: str, *, now: datetime, settings: Settings
) -> ItemView:
    """The owner marks an item done, saying what was done (the mini-program)."""
    item = visible_item(member, item_id)
    _owner_only(member, item)
    with write_tx():
        _finish(member, item, text, now=now, settings=settings)
    return item_view(item, local_today(now, settings))


def mark_done_by_number(
    member: Member, number: int, text: str, *, now: datetime, settings: Settings
) -> ItemView:
    """The owner marks an item of their branch done by its 编号 (完成 编号 说明)."""
    item = numbered_item(member, number)
    _owner_only(member, item)
    with write_tx():
        _finish(member, item, text, now=now, settings=settings)
    return item_view(item, local_today(now, settings))


def move_status(
    actor: Member,
    item_id: int,
    status: str,
    text: str = "",
    *,
    now: datetime,
    settings: Settings,
) -> ItemView:
    """A manager moves an item on: started (整改中, with an optional note) or done (with what
    was done). Verifying is verify_item's."""
    item = managed_item(actor, item_id)
    require_change(actor, item)
    if status not in MOVES:
        raise Invalid("状态只能改为：整改中（in_progress）或已完成（done）。")
    before = item_fields(item)
    with write_tx():
        if status == "done":
            _finish(actor, item, text, now=now, settings=settings)
        else:
            _start(actor, item, text, now=now, settings=settings)
        verb = "标记整改完成" if status == "done" else "开始整改"
        record_item_change(actor, "rectification.status", verb, item, before, now=now)
    return item_view(item, local_today(now, settings))


def _start(
    actor: Member, item: RectificationItem, text: str, *, now: datetime, settings: Settings
) -> None:
    refusal = _closed_refusal(item)
    if refusal is not None:
        raise refusal
    if item.status == "in_progress":
        raise Conflict(f"编号 {item.number} 的整改事项已在整改中。", errcode="already_started")
    text = checked_text("note", text, settings, required=False)
    _moved(item, "open", status="in_progress", updated_at=now)
    if text:
        _note(item, actor, "progress", text, now)


def verify_item(
    actor: Member,
    item_id: int,
    approve: bool,
    reason: str = "",
    *,
    now: datetime,
    settings: Settings,
) -> ItemView:
    """Verify a done item (已验收), or send it back to 整改中 with the reason. The branch
    secretary verifies the branch's items; a committee admin those the committee raised."""
    item = managed_item(actor, item_id)
    require_verifier(actor, item)
    if item.status == "verified":
        raise Conflict(f"编号 {item.number} 的整改事项已验收。", errcode="already_verified")
    if item.status != "done":
        raise DomainError(
            f"编号 {item.number} 的整改事项{item.status_label}，责任人标记完成后才能验收。",
            errcode="not_done",
        )
    reason = checked_text("note", reason, settings, required=False)
    if not approve and not reason:
        raise Invalid("请写明验收未通过的原因，以便责任人继续整改。", errcode="reason_missing")
    before = item_fields(item)
    with write_tx():
        if approve:
            _moved(item, "done", status="verified", verified_at=now, verified_by=actor.id)
            _note(item, actor, "verified", reason or "验收通过", now)
            record_item_change(
                actor, "rectification.verify", "验收整改事项", item, before, now=now
            )
        else:
            _moved(item, "done", status="in_progress", done_at=None, done_on=None, updated_at=now)
            _note(item, actor, "refused", reason, now)
            _tell_owners_refused(item, reason, now)
            record_item_change(
                actor,
                "rectification.refuse",
                "退回整改事项",
                item,
                before,
                now=now,
                extra={"reason": reason},
            )
    return item_view(item, local_today(now, settings))


def _tell_owners_refused(item: RectificationItem, reason: str, now: datetime) -> None:
    """A personal note to each owner that the item came back, with the reason (in the caller's
    transaction: the note goes out only if the refusal is kept)."""
    verifier = "党委" if item.raised_by == "committee" else "支部书记"
    for member_id, name in item_owners(item):
        text = (
            f"{name}同志，您负责的整改事项【编号{item.number}】{item.kind_label}"
            f"未通过{verifier}验收，已退回“整改中”。\n问题：{short(item.problem, 60)}"
            f"\n原因：{short(reason, 120)}"
            f"\n请继续整改，完成后再发送“完成 {item.number} 完成情况”。"
        )
        enqueue(
            "rectification_refused",
            "member",
            member_id,
            f"{item.id}:{now.isoformat()}",
            {"text": text, "title": "整改退回"},
            branch_id=item.branch_id,
            now=now,
        )
