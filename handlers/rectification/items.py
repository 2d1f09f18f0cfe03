"""Rectification items raised and changed by managers: each use case checks who may, checks
the fields, writes in one transaction with its audit entry, and answers the item as read."""

from __future__ import annotations

from datetime import date, datetime

from peewee import IntegrityError, fn

from core.config import Settings
from handlers.branches import branch_acted_for
from handlers.errors import Conflict
from handlers.rectification.base import (
    checked_kind,
    checked_owner,
    checked_source,
    checked_text,
    local_today,
    managed_item,
    raiser,
    require_change,
)
from handlers.rectification.trail import item_fields, record_item, record_item_change
from handlers.rectification.views import ItemView, item_view
from models.base import db, write_tx
from models.org import BRANCH_MANAGERS, Member
from models.rectification import RectificationItem

# Attempts at a new 编号 when two managers add an item to one branch at the same moment.
NUMBER_ATTEMPTS = 3


def _next_number(branch_id: int) -> int:
    top = (
        RectificationItem.select(fn.MAX(RectificationItem.number))
        .where(RectificationItem.branch == branch_id)
        .scalar()
    )
    return (top or 0) + 1


def create_item(
    actor: Member,
    branch_id: int | None,
    *,
    kind: str,
    source: str,
    problem: str,
    measure: str = "",
    owner_id: int | None = None,
    owner_role: str | None = None,
    deadline: date,
    now: datetime,
    settings: Settings,
) -> ItemView:
    """Add an item to a branch's lists with the branch's next 编号 (status 待整改); a committee
    admin raises it for the committee."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    fields = {
        "kind": checked_kind(kind),
        "source": checked_source(source),
        "problem": checked_text("problem", problem, settings, required=True),
        "measure": checked_text("measure", measure, settings, required=False),
    }
    owner = checked_owner(branch, owner_id, owner_role)
    with write_tx():
        for attempt in range(NUMBER_ATTEMPTS):
            try:
                with db.atomic():
                    item = RectificationItem.create(
                        branch=branch,
                        number=_next_number(branch.id),
                        owner=owner.member,
                        owner_role=owner.role,
                        deadline=deadline,
                        raised_by=raiser(actor, branch),
                        created_by=actor.id,
                        created_at=now,
                        updated_at=now,
                        **fields,
                    )
                break
            except IntegrityError:  # another item took the number first
                if attempt == NUMBER_ATTEMPTS - 1:
                    raise Conflict("请稍后重试：刚刚有人同时添加了整改事项。") from None
        record_item(
            actor, "rectification.create", "新增整改事项", item, now=now, after=item_fields(item)
        )
    return item_view(item, local_today(now, settings))


def change_item(
    actor: Member,
    item_id: int,
    *,
    kind: str | None = None,
    source: str | None = None,
    problem: str | None = None,
    measure: str | None = None,
    owner_id: int | None = None,
    owner_role: str | None = None,
    deadline: date | None = None,
    now: datetime,
    settings: Settings,
) -> ItemView:
    """Change an item's fields (those given); a verified item is closed and stays as it is."""
    item = managed_item(actor, item_id)
    require_change(actor, item)
    if item.status == "verified":
        raise Conflict(
            f"编号 {item.number} 的整改事项已验收，不能再修改。", errcode="already_verified"
        )
    before = item_fields(item)
    if kind is not None:
        item.kind = checked_kind(kind)
    if source is not None:
        item.source = checked_source(source)
    if problem is not None:
        item.problem = checked_text("problem", problem, settings, required=True)
    if measure is not None:
        item.measure = checked_text("measure", measure, settings, required=False)
    if owner_id is not None or owner_role:
        owner = checked_owner(item.branch, owner_id, owner_role)
        item.owner, item.owner_role = owner.member, owner.role
    if deadline is not None:
        item.deadline = deadline
    if item_fields(item) == before:  # nothing to change: nothing written, nothing recorded
        return item_view(item, local_today(now, settings))
    item.updated_at = now
    with write_tx():
        item.save()
        record_item_change(actor, "rectification.change", "修改整改事项", item, before, now=now)
    return item_view(item, local_today(now, settings))
