"""Who may manage whom: the refusals the managers' use cases share."""

from __future__ import annotations

from handlers.errors import DomainError, Forbidden, NotFound
from models.org import BRANCH_MANAGERS, Branch, Member, acts_for

FORBIDDEN = "没有权限进行此操作。"
NOT_FOUND = "请求的资源不存在，或您无权查看。"


def not_found() -> DomainError:
    """Not found, or not the actor's to see: the answer does not tell which."""
    return NotFound(NOT_FOUND, errcode="not_found")


def forbidden(message: str = FORBIDDEN) -> DomainError:
    return Forbidden(message, errcode="forbidden")


def require_role(actor: Member, *roles: str) -> None:
    """Refuse an actor who holds none of these roles."""
    if not actor.has_role(*roles):
        raise forbidden()


def managed_member(actor: Member, member_id: int) -> Member:
    """A branch manager's or committee admin's member (with the branch), or not found."""
    require_role(actor, *BRANCH_MANAGERS, "committee_admin")
    target = Member.select(Member, Branch).join(Branch).where(Member.id == member_id).first()
    if target is None or not acts_for(actor, target.branch, BRANCH_MANAGERS):
        raise not_found()
    return target
