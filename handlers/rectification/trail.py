"""Rectification items in the audit log: the fields a manager's change is recorded by."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handlers.audit import changed, record
from handlers.rectification.base import describe
from models.org import Member
from models.rectification import RectificationItem

# An item's fields as the audit log shows them before and after a change.
FIELDS = ("kind", "source", "problem", "measure", "owner_id", "owner_role", "deadline", "status")


def item_fields(item: RectificationItem) -> dict[str, Any]:
    return {name: getattr(item, name) for name in FIELDS}


def record_item(
    actor: Member | None,
    action: str,
    verb: str,
    item: RectificationItem,
    *,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record a manager's change of an item: ``verb`` (新增整改事项) and the item in one line."""
    record(
        actor,
        action,
        summary=f"{verb}：{describe(item)}",
        target=f"rectification:{item.id}",
        branch_id=item.branch_id,
        before=before,
        after=after,
        now=now,
    )


def record_item_change(
    actor: Member | None,
    action: str,
    verb: str,
    item: RectificationItem,
    before: dict[str, Any],
    *,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    """Record the fields of ``item`` that differ from ``before`` (and ``extra``, after)."""
    old, new = changed(before, item_fields(item))
    record_item(actor, action, verb, item, now=now, before=old, after={**new, **(extra or {})})
