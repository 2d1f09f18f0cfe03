"""What the operator lists: outbox messages, newest first, and the branches' group channels."""

from __future__ import annotations

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
