"""Find committees and branches by the names an operator types."""

from __future__ import annotations

from handlers.errors import DomainError, NotFound
from models.org import Branch, Committee


def committee_names() -> list[str]:
    """The names of every committee, in order."""
    return [c.name for c in Committee.select(Committee.name).order_by(Committee.name)]


def resolve_committee(committee_name: str | None) -> Committee | None:
    """The committee of that name (None for None), or refuse listing the committees there are."""
    if committee_name is None:
        return None
    committee = Committee.get_or_none(Committee.name == committee_name)
    if committee is None:
        names = "、".join(c.name for c in Committee.select().order_by(Committee.name)) or "（无）"
        raise DomainError(f"没有名为“{committee_name}”的党委。现有党委：{names}")
    return committee


def resolve_branch(branch_name: str, committee: Committee | None) -> Branch:
    """The one branch of that name (within the committee if given), or refuse saying why."""
    query = Branch.select(Branch, Committee).join(Committee).order_by(Branch.name)
    if committee is not None:
        query = query.where(Branch.committee == committee.id)
    branches = list(query)
    matches = [b for b in branches if b.name == branch_name.strip()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        if not branches:
            raise DomainError(f"没有名为“{branch_name}”的支部：还没有任何支部，请先导入名册。")
        names = "、".join(b.name for b in branches)
        raise DomainError(f"没有名为“{branch_name}”的支部。现有支部：{names}")
    committees = "、".join(b.committee.name for b in matches)
    raise DomainError(f"多个党委都有“{branch_name}”（{committees}），请指定党委。")


def branch_named(name: str) -> Branch:
    """The one branch of exactly that name in any committee, or refuse with how many there are."""
    branches = list(Branch.select().where(Branch.name == name))
    if len(branches) != 1:
        raise NotFound(f"找不到唯一名为“{name}”的支部（找到 {len(branches)} 个）。")
    return branches[0]
