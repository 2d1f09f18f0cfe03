"""Rectification items as people read them: a branch's lists, one item with its notes, a
member's own items, and the committee's counts per branch (never people across branches)."""

from __future__ import annotations

import operator
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from functools import reduce

from peewee import JOIN, Case, Expression, fn

from core.config import Settings
from handlers.branches import branch_acted_for
from handlers.errors import Forbidden
from handlers.rectification.base import (
    NOT_ALLOWED,
    can_change,
    can_manage,
    can_verify,
    is_owner,
    local_today,
    owner_label,
    visible_item,
)
from handlers.roster.access import require_role
from models.org import BRANCH_MANAGERS, Branch, Member
from models.rectification import CLOSED, RectificationItem, RectificationNote


@dataclass(frozen=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True)
class ItemView:
    """An item with its owner's and verifier's names, judged on ``today`` (local)."""

    item: RectificationItem
    owner: str  # the member's name, or the role (职务)
    owner_member: Person | None
    verified_by: Person | None
    today: date

    @property
    def days_left(self) -> int:
        """Days until the deadline: 0 on the day, negative once it passed."""
        return (self.item.deadline - self.today).days

    @property
    def overdue(self) -> bool:
        """The deadline passed and the item is not done."""
        return not self.item.closed and self.days_left < 0

    @property
    def on_time(self) -> bool | None:
        """Whether it was done by its deadline; None while not done."""
        done_on = self.item.done_on
        return None if not self.item.closed or done_on is None else done_on <= self.item.deadline


@dataclass(frozen=True)
class NoteView:
    note: RectificationNote
    author: Person | None


@dataclass(frozen=True)
class Detail:
    view: ItemView
    notes: list[NoteView]  # oldest first
    can_change: bool
    can_verify: bool
    is_owner: bool


@dataclass(frozen=True)
class ItemPage:
    branch: Branch
    items: list[ItemView]
    total: int
    limit: int
    offset: int


def people(ids: Iterable[int | None]) -> dict[int, Person]:
    """The named members by id, in one query."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    query = Member.select(Member.id, Member.name).where(Member.id.in_(wanted))
    return {i: Person(i, name) for i, name in query.tuples()}


def item_views(items: list[RectificationItem], today: date) -> list[ItemView]:
    """Items with the names they mention, in one query."""
    named = people(i for it in items for i in (it.owner_id, it.verified_by_id))
    names = {i: p.name for i, p in named.items()}
    return [
        ItemView(
            it,
            owner_label(it, names),
            named.get(it.owner_id),
            named.get(it.verified_by_id),
            today,
        )
        for it in items
    ]


def item_view(item: RectificationItem, today: date) -> ItemView:
    return item_views([item], today)[0]


def _filters(status: str | None, kind: str | None, overdue: bool | None, today: date) -> list:
    conds: list[Expression] = []
    if status:
        conds.append(RectificationItem.status == status)
    if kind:
        conds.append(RectificationItem.kind == kind)
    late = RectificationItem.status.not_in(CLOSED) & (RectificationItem.deadline < today)
    if overdue is True:
        conds.append(late)
    elif overdue is False:
        conds.append(~late)
    return conds


def branch_items(
    actor: Member,
    branch_id: int | None,
    *,
    status: str | None = None,
    kind: str | None = None,
    overdue: bool | None = None,
    now: datetime,
    settings: Settings,
    limit: int,
    offset: int,
) -> ItemPage:
    """The branch's items for its managers, filtered; open ones first, by deadline."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    today = local_today(now, settings)
    closed = Case(None, [(RectificationItem.status.in_(CLOSED), 1)], 0)
    select = RectificationItem.select().where(
        RectificationItem.branch == branch.id, *_filters(status, kind, overdue, today)
    )
    total = select.count()
    rows = list(
        select.order_by(closed, RectificationItem.deadline, RectificationItem.number)
        .limit(limit)
        .offset(offset)
    )
    for row in rows:
        row.branch = branch
    return ItemPage(branch, item_views(rows, today), total, limit, offset)


def item_detail(actor: Member, item_id: int, *, now: datetime, settings: Settings) -> Detail:
    """One item with its notes, for the branch's managers and the item's owners."""
    item = visible_item(actor, item_id)
    owner = is_owner(actor, item)
    if not owner and not can_manage(actor, item.branch):
        raise Forbidden(NOT_ALLOWED, errcode="forbidden")
    return detail(item, actor, local_today(now, settings))


def detail(item: RectificationItem, actor: Member, today: date) -> Detail:
    notes = list(
        RectificationNote.select()
        .where(RectificationNote.item == item.id)
        .order_by(RectificationNote.at, RectificationNote.id)
    )
    authors = people(n.author_id for n in notes)
    return Detail(
        item_view(item, today),
        [NoteView(n, authors.get(n.author_id)) for n in notes],
        can_change(actor, item),
        can_verify(actor, item),
        is_owner(actor, item),
    )


def owned_by(member: Member) -> Expression:
    """Items the member owns: named, or through a role they hold in the item's branch."""
    named = RectificationItem.owner == member.id
    roles = sorted(member.role_set)
    if not roles:
        return named
    by_role = (RectificationItem.owner.is_null()) & (RectificationItem.branch == member.branch_id)
    held = reduce(operator.or_, (RectificationItem.owner_role == r for r in roles))
    return named | (by_role & held)


def my_items(
    member: Member,
    *,
    status: str | None = None,
    now: datetime,
    settings: Settings,
    limit: int,
    offset: int,
) -> ItemPage:
    """The items the member owns (named, or by a role), open ones first, by deadline."""
    today = local_today(now, settings)
    closed = Case(None, [(RectificationItem.status.in_(CLOSED), 1)], 0)
    select = RectificationItem.select().where(owned_by(member))
    if status:
        select = select.where(RectificationItem.status == status)
    total = select.count()
    rows = list(
        select.order_by(closed, RectificationItem.deadline, RectificationItem.number)
        .limit(limit)
        .offset(offset)
    )
    return ItemPage(member.branch, item_views(rows, today), total, limit, offset)


# ---- the committee's counts ------------------------------------------------------------------


@dataclass(frozen=True)
class BranchCounts:
    """One branch's items: not done, of them overdue, done by the deadline, done late."""

    branch_id: int
    open: int
    overdue: int
    closed_on_time: int
    closed_late: int


def committee_counts(committee_id: int, today: date) -> dict[int, BranchCounts]:
    """Every branch of the committee's counts (a branch with no items has zeros), in one
    grouped query however many branches."""
    item = RectificationItem
    not_closed = item.status.not_in(CLOSED)
    closed = item.status.in_(CLOSED)

    def tally(cond: Expression) -> Expression:
        return fn.COALESCE(fn.SUM(Case(None, [(cond, 1)], 0)), 0)

    query = (
        Branch.select(
            Branch.id,
            tally(not_closed),
            tally(not_closed & (item.deadline < today)),
            tally(closed & (item.done_on <= item.deadline)),
            tally(closed & (item.done_on > item.deadline)),
        )
        .join(item, JOIN.LEFT_OUTER, on=item.branch == Branch.id)
        .where(Branch.committee == committee_id)
        .group_by(Branch.id)
    )
    return {row[0]: BranchCounts(*row) for row in query.tuples()}


def committee_rectification(
    actor: Member, *, now: datetime, settings: Settings
) -> dict[int, BranchCounts]:
    """The committee admin's counts of every branch of their committee."""
    require_role(actor, "committee_admin")
    return committee_counts(actor.branch.committee_id, local_today(now, settings))
