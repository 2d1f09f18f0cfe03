"""What the operator lists: outbox messages, newest first, the rows by status, and the
branches' group channels."""

from __future__ import annotations

from collections.abc import Sequence

from peewee import fn

from handlers.roster.lookups import branch_named
from models.org import Branch
from models.outbox import BranchChannel, OutboxMessage


def outbox_messages(
    status: str | None, branch_name: str | None, limit: int
) -> list[OutboxMessage]:
    """The newest ``limit`` messages, of that status and branch if given."""
    query = OutboxMessage.select().order_by(OutboxMessage.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxMessage.status == status)
    if branch_name:
        query = query.where(OutboxMessage.branch == branch_named(branch_name).id)
    return list(query)


def status_counts(statuses: Sequence[str]) -> dict[str, int]:
    """How many rows are in each of ``statuses`` (0 for none), in one grouped query on the
    (status, next_attempt_at) index; meant for the short-lived statuses (pending, sending,
    dead), not for the sent rows, which are kept for good."""
    counts = dict.fromkeys(statuses, 0)
    query = (
        OutboxMessage.select(OutboxMessage.status, fn.COUNT(OutboxMessage.id))
        .where(OutboxMessage.status.in_(list(statuses)))
        .group_by(OutboxMessage.status)
        .tuples()
    )
    counts.update({status: rows for status, rows in query})
    return counts


def group_channels(branch_name: str | None) -> list[tuple[Branch, BranchChannel | None]]:
    """Every branch (or the one named) in id order, with its group channel or None if unset."""
    query = Branch.select().order_by(Branch.id)
    if branch_name:
        query = query.where(Branch.id == branch_named(branch_name).id)
    branches = list(query)
    channels = {
        c.branch_id: c
        for c in BranchChannel.select().where(BranchChannel.branch.in_([b.id for b in branches]))
    }
    return [(branch, channels.get(branch.id)) for branch in branches]
