"""Which branch a manager acts for: their own, or another one their role reaches."""

from __future__ import annotations

from handlers.errors import Forbidden
from models.org import Branch, Member, acts_for

NOT_ALLOWED = "没有权限进行此操作。"


def branch_acted_for(actor: Member, branch_id: int | None, roles: tuple[str, ...]) -> Branch:
    """The actor's own branch (``branch_id`` None or theirs), or the one asked for if the
    actor may act for it with one of ``roles`` (a committee admin for their committee's).

    A branch the actor may not act for is refused, and so is an unknown id, with the same
    words: the refusal does not tell whether the branch exists.
    """
    if branch_id is None or branch_id == actor.branch_id:
        branch = actor.branch
    else:
        branch = Branch.get_or_none(Branch.id == branch_id)
        if branch is None:
            raise Forbidden(NOT_ALLOWED)
    if not acts_for(actor, branch, roles):
        raise Forbidden(NOT_ALLOWED)
    return branch
