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
    return ListPage(page, _members(page.branch.id), OWNER_ROLES)


def _members(branch_id: int) -> list[Person]:
    """The branch's members, for choosing an owner."""
    query = Member.select(Member.id, Member.name).where(Member.branch == branch_id)
    return [Person(i, name) for i, name in query.order_by(Member.id).tuples()]


@dataclass(frozen=True)
class ItemScreen:
    detail: Detail
    members: list[Person]  # for the edit form's owner (only when the actor may change it)
    roles: dict[str, str]


def item_page(
    actor: Member, branch_id: int, item_id: int, *, now: datetime, settings: Settings
) -> ItemScreen:
    """One item of the branch in the address, with its notes (another branch's: not found),
    and whom the edit form may name as owner."""
    found = item_detail(actor, item_id, now=now, settings=settings)
    if found.view.item.branch_id != branch_id:
        raise hidden()
    editable = found.can_change and found.view.item.status != "verified"
    return ItemScreen(found, _members(branch_id) if editable else [], OWNER_ROLES)
