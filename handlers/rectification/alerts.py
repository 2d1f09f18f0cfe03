"""What the scheduler reads of the rectification lists, for every branch at once: the items
whose owners are reminded today, and the overdue items of the secretaries' and committee
admins' digests. Each in a constant number of queries however many branches there are."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from peewee import fn

from models.org import LEFT, Branch, Member
from models.rectification import CLOSED, RectificationItem


@dataclass(frozen=True)
class Due:
    """An item due in ``days`` days and the members to remind: (member id, name)."""

    item: RectificationItem
    days: int
    owners: list[tuple[int, str]]


def due_items(today: date, days: tuple[int, ...]) -> list[Due]:
    """Items not done whose deadline is ``days`` days from today, with their owners (the
    member named, or every member of the branch holding the role), in two queries."""
    deadlines = {today + timedelta(days=d): d for d in set(days)}
    items = list(
        RectificationItem.select()
        .where(
            RectificationItem.status.not_in(CLOSED),
            RectificationItem.deadline.in_(list(deadlines)),
        )
        .order_by(RectificationItem.branch, RectificationItem.number)
    )
    if not items:
        return []
    named = {i.owner_id for i in items if i.owner_id is not None}
    role_branches = {i.branch_id for i in items if i.owner_id is None and i.owner_role}
    cond = Member.id.in_(list(named)) if named else None
    if role_branches:
        by_role = Member.branch.in_(list(role_branches)) & (Member.roles != "")
        cond = by_role if cond is None else cond | by_role
    cond = cond & (Member.status != LEFT) if cond is not None else None  # no note to who left
    people = (
        list(Member.select(Member.id, Member.name, Member.branch, Member.roles).where(cond))
        if cond is not None
        else []
    )
    names = {m.id: m.name for m in people}
    holders: dict[tuple[int, str], list[tuple[int, str]]] = defaultdict(list)
    for m in sorted(people, key=lambda m: m.id):
        for role in m.role_set:
            holders[(m.branch_id, role)].append((m.id, m.name))
    out = []
    for item in items:
        if item.owner_id is not None:
            owners = [(item.owner_id, names[item.owner_id])] if item.owner_id in names else []
        else:
            owners = holders.get((item.branch_id, item.owner_role), [])
        if owners:
            out.append(Due(item, deadlines[item.deadline], owners))
    return out


def item_owners(item: RectificationItem) -> list[tuple[int, str]]:
    """(id, name) of whoever owns the item: the member named, or every member of its branch
    holding the owner role."""
    if item.owner_id is not None:
        cond = Member.id == item.owner_id
    elif item.owner_role:
        cond = (Member.branch == item.branch_id) & (Member.roles != "")
    else:
        return []
    found = (
        Member.select(Member.id, Member.name, Member.roles)
        .where(cond, Member.status != LEFT)
        .order_by(Member.id)
    )
    if item.owner_id is not None:
        return [(m.id, m.name) for m in found]
    return [(m.id, m.name) for m in found if item.owner_role in m.role_set]


@dataclass(frozen=True)
class Overdue:
    """An overdue item as the secretary's digest names it."""

    branch_id: int
    item_id: int
    number: int
    kind_label: str
    deadline: date
    days: int  # days past the deadline


def overdue_items(today: date, branch_ids: set[int] | None) -> list[Overdue]:
    """Items not done past their deadline (of ``branch_ids``, or every branch), by branch and
    deadline, in one query."""
    query = RectificationItem.select(
        RectificationItem.id,
        RectificationItem.branch,
        RectificationItem.number,
        RectificationItem.kind,
        RectificationItem.deadline,
    ).where(RectificationItem.status.not_in(CLOSED), RectificationItem.deadline < today)
    if branch_ids is not None:
        query = query.where(RectificationItem.branch.in_(list(branch_ids)))
    query = query.order_by(
        RectificationItem.branch, RectificationItem.deadline, RectificationItem.number
    )
    return [
        Overdue(i.branch_id, i.id, i.number, i.kind_label, i.deadline, (today - i.deadline).days)
        for i in query
    ]


@dataclass(frozen=True)
class Awaiting:
    """A done item the branch secretary has yet to verify, as the digest names it."""

    branch_id: int
    item_id: int
    number: int
    kind_label: str
    done_on: date | None


def awaiting_verification(branch_ids: set[int] | None) -> list[Awaiting]:
    """Items the branch raised, marked done and not yet verified (of ``branch_ids``, or every
    branch), oldest first, in one query. Items the committee raised wait on the committee."""
    query = RectificationItem.select(
        RectificationItem.id,
        RectificationItem.branch,
        RectificationItem.number,
        RectificationItem.kind,
        RectificationItem.done_on,
    ).where(RectificationItem.status == "done", RectificationItem.raised_by == "branch")
    if branch_ids is not None:
        query = query.where(RectificationItem.branch.in_(list(branch_ids)))
    query = query.order_by(
        RectificationItem.branch, RectificationItem.done_on, RectificationItem.number
    )
    return [Awaiting(i.branch_id, i.id, i.number, i.kind_label, i.done_on) for i in query]


def long_overdue_counts(today: date, days: int) -> dict[int, list[tuple[str, int]]]:
    """Per committee, (branch name, count) of items overdue ``days`` days or more, by branch
    id, in one grouped query."""
    query = (
        RectificationItem.select(Branch.committee, Branch.id, Branch.name, fn.COUNT(1))
        .join(Branch, on=RectificationItem.branch == Branch.id)
        .where(
            RectificationItem.status.not_in(CLOSED),
            RectificationItem.deadline <= today - timedelta(days=days),
        )
        .group_by(Branch.committee, Branch.id, Branch.name)
        .order_by(Branch.id)
    )
    out: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for committee_id, _branch_id, name, count in query.tuples():
        out[committee_id].append((name, count))
    return out
