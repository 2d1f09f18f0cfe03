"""The console's rectification pages: what they read, composed of the rectification use cases
(handlers.rectification) that the bot and the mini-program call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.config import Settings
from handlers.rectification import OWNER_ROLES, Detail, ItemPage, Person, branch_items, item_detail
from handlers.rectification.base import hidden
from models.org import Member


@dataclass(frozen=True)
class ListPage:
    page: ItemPage
    members: list[Person]  # the branch's members, for choosing an owner
    roles: dict[str, str]  # the roles an item may be owned by


def list_page(
    actor: Member,
    branch_id: int,
    *,
    status: str | None,
    kind: str | None,
    overdue: bool | None,
    now: datetime,
    settings: Settings,
    limit: int,
    offset: int,
) -> ListPage:
    """The branch's items, filtered, and whom the add form may name as owner."""
    page = branch_items(
        actor,
        branch_id,
        status=status,
        kind=kind,
        overdue=overdue,
        now=now,
        settings=settings,
        limit=limit,
        offset=offset,
    )
    members = [
        Person(i, name)
        for i, name in Member.select(Member.id, Member.name)
        .where(Member.branch == page.branch.id)
        .order_by(Member.id)
        .tuples()
    ]
    return ListPage(page, members, OWNER_ROLES)


def item_page(
    actor: Member, branch_id: int, item_id: int, *, now: datetime, settings: Settings
) -> Detail:
    """One item of the branch in the address, with its notes (another branch's: not found)."""
    found = item_detail(actor, item_id, now=now, settings=settings)
    if found.view.item.branch_id != branch_id:
        raise hidden()
    return found
