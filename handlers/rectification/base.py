"""Rectification lists: who may do what with an item, the checks of its fields, lookups, and
an item in one line.

An item is seen by the members of its branch and by whoever manages that branch; one the
caller may not see is "not found", like an id that does not exist. It is managed (created,
changed, annotated, moved on) by the branch's managers (models.org.BRANCH_MANAGERS) and by a
committee admin for the committee's branches; an item the committee raised is changed only by
a committee admin. It is verified by the branch secretary, or, when the committee raised it,
by a committee admin. Its owner (the member named, or every member of the branch holding the
role named) marks it done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from core.clock import local_day
from core.config import Settings
from handlers.errors import DomainError, Forbidden, Invalid, NotFound
from models.org import BRANCH_MANAGERS, ROLES, Branch, Member, acts_for
from models.rectification import LIST_KINDS, SOURCES, RectificationItem

# Roles an item may be owned by: every branch role (a committee admin is not one).
OWNER_ROLES: dict[str, str] = {k: v for k, v in ROLES.items() if k != "committee_admin"}
VERIFIERS = ("secretary",)
SHORT = 40  # characters of the problem in an item's one line

HIDDEN = "请求的资源不存在，或您无权查看。"
NOT_ALLOWED = "没有权限进行此操作。"
NOT_MANAGER = "只有支部书记、副书记、组织委员或党委管理员可以管理整改清单。"
COMMITTEE_ITEM = "这项整改由党委提出，只能由党委管理员修改。"
NOT_VERIFIER = "只有支部书记可以验收本支部提出的整改事项。"
COMMITTEE_VERIFIES = "这项整改由党委提出，须由党委管理员验收。"


def hidden() -> DomainError:
    """The refusal for an item the caller may not see: it does not tell whether it exists."""
    return NotFound(HIDDEN, errcode="not_found")


def local_today(now: datetime, settings: Settings) -> date:
    return local_day(now, ZoneInfo(settings.app.timezone))


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def short(text: str, most: int = SHORT) -> str:
    """The first line of a text, cut to ``most`` characters."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= most else line[: most - 1] + "…"


def describe(item: RectificationItem) -> str:
    """An item in one line: 【编号3】问题清单：学习制度执行不严格."""
    return f"【编号{item.number}】{item.kind_label}：{short(item.problem)}"


def deadline_state(item: RectificationItem, today: date) -> str:
    """截止 2026年9月30日（还剩 5 天 / 今天到期 / 已逾期 3 天）; closed items just the day."""
    left = (item.deadline - today).days
    if item.closed:
        return f"截止 {day_text(item.deadline)}"
    if left > 0:
        state = f"还剩 {left} 天"
    elif left == 0:
        state = "今天到期"
    else:
        state = f"已逾期 {-left} 天"
    return f"截止 {day_text(item.deadline)}（{state}）"


# ---- who may do what ------------------------------------------------------------------------


def can_manage(actor: Member | None, branch: Branch) -> bool:
    """Branch managers for their branch; a committee admin for the committee's branches."""
    return acts_for(actor, branch, BRANCH_MANAGERS)


def committee_admin_of(actor: Member | None, branch: Branch) -> bool:
    """A committee admin of the branch's committee (or the operator at the command line)."""
    return acts_for(actor, branch, ())


def can_change(actor: Member | None, item: RectificationItem) -> bool:
    """Whether the actor may change the item's fields and move it on."""
    if item.raised_by == "committee":
        return committee_admin_of(actor, item.branch)
    return can_manage(actor, item.branch)


def can_verify(actor: Member | None, item: RectificationItem) -> bool:
    """The branch secretary verifies the branch's items, a committee admin the committee's
    (and, acting for the committee's branches, the branch's too)."""
    if item.raised_by == "committee":
        return committee_admin_of(actor, item.branch)
    return acts_for(actor, item.branch, VERIFIERS)


def is_owner(member: Member, item: RectificationItem) -> bool:
    """The member named as owner, or a member of the item's branch holding the owner role."""
    if item.owner_id is not None:
        return item.owner_id == member.id
    return (
        bool(item.owner_role)
        and member.branch_id == item.branch_id
        and member.has_role(item.owner_role)
    )


def raiser(actor: Member | None, branch: Branch) -> str:
    """Who raises an item the actor creates: a committee admin raises it for the committee,
    unless they manage the branch as one of its own managers."""
    if actor is None or not actor.has_role("committee_admin"):
        return "branch"
    own = actor.branch_id == branch.id and actor.has_role(*BRANCH_MANAGERS)
    return "branch" if own else "committee"


def require_manager(actor: Member, branch: Branch) -> None:
    if not can_manage(actor, branch):
        raise Forbidden(NOT_MANAGER, errcode="forbidden")


def require_change(actor: Member, item: RectificationItem) -> None:
    require_manager(actor, item.branch)
    if not can_change(actor, item):
        raise Forbidden(COMMITTEE_ITEM, errcode="committee_item")


def require_verifier(actor: Member, item: RectificationItem) -> None:
    if not can_verify(actor, item):
        text = COMMITTEE_VERIFIES if item.raised_by == "committee" else NOT_VERIFIER
        raise Forbidden(text, errcode="forbidden")


# ---- lookups --------------------------------------------------------------------------------


def find_item(item_id: int) -> RectificationItem | None:
    """The item with this id, its branch loaded, whoever may see it; None if there is none."""
    return (
        RectificationItem.select(RectificationItem, Branch)
        .join(Branch)
        .where(RectificationItem.id == item_id)
        .first()
    )


def visible_item(actor: Member, item_id: int) -> RectificationItem:
    """An item of the actor's branch or of one they manage; else not found."""
    item = find_item(item_id)
    if item is None:
        raise hidden()
    if item.branch_id != actor.branch_id and not can_manage(actor, item.branch):
        raise hidden()
    return item


def managed_item(actor: Member, item_id: int) -> RectificationItem:
    """An item the actor manages (seen, and of a branch they manage)."""
    item = visible_item(actor, item_id)
    require_manager(actor, item.branch)
    return item


def numbered_item(member: Member, number: int) -> RectificationItem:
    """The item of the member's branch with this 编号, or a refusal naming the number."""
    item = (
        RectificationItem.select(RectificationItem, Branch)
        .join(Branch)
        .where(RectificationItem.branch == member.branch_id, RectificationItem.number == number)
        .first()
    )
    if item is None:
        raise NotFound(
            f"本支部没有编号为 {number} 的整改事项。",
            errcode="not_found",
            chat_hint="请发送“清单”查看您负责的整改事项和编号。",
        )
    return item


# ---- the fields -----------------------------------------------------------------------------

LABELS = {"problem": "问题", "measure": "整改措施", "note": "说明"}


def checked_text(field: str, text: str, settings: Settings, *, required: bool) -> str:
    """A text field stripped, within its limit ([rectification] <field>_max_chars)."""
    label = LABELS[field]
    text = (text or "").strip()
    if required and not text:
        raise Invalid(f"请填写{label}。", errcode="missing_field")
    most = getattr(settings.rectification, f"{field}_max_chars")
    if len(text) > most:
        raise Invalid(f"{label}最多 {most} 字，本次 {len(text)} 字，未保存。", errcode="too_long")
    return text


def checked_choice(value: str, choices: dict[str, str], label: str) -> str:
    if value not in choices:
        raise Invalid(f"{label}应为以下之一：{'、'.join(choices.values())}。")
    return value


def checked_kind(value: str) -> str:
    return checked_choice(value, LIST_KINDS, "清单类别")


def checked_source(value: str) -> str:
    return checked_choice(value, SOURCES, "来源")


@dataclass(frozen=True)
class Owner:
    member: Member | None
    role: str  # "" when a member owns it


def checked_owner(branch: Branch, owner_id: int | None, owner_role: str | None) -> Owner:
    """The owner: one member of the branch, or one branch role; exactly one of them."""
    if owner_id is not None and owner_role:
        raise Invalid("责任人只能是一名党员或一个职务，不能同时指定。")
    if owner_id is not None:
        member = Member.get_or_none((Member.id == owner_id) & (Member.branch == branch.id))
        if member is None:
            raise DomainError(
                f"{branch.name}没有编号为 {owner_id} 的党员，请指定本支部的党员为责任人。",
                errcode="owner_not_in_branch",
            )
        return Owner(member, "")
    if owner_role:
        checked_choice(owner_role, OWNER_ROLES, "责任职务")
        return Owner(None, owner_role)
    raise Invalid(
        "请指定责任人：本支部的一名党员，或一个职务（如书记、组织委员）。",
        errcode="missing_field",
    )


def owner_label(item: RectificationItem, names: dict[int, str]) -> str:
    """The owner as people read it: the member's name, or the role (职务)."""
    if item.owner_id is not None:
        return names.get(item.owner_id, "")
    if item.owner_role:
        return f"{OWNER_ROLES.get(item.owner_role, item.owner_role)}（职务）"
    return "（未指定）"
