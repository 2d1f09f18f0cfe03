"""A roster import for a manager: what the file would change, then the import itself.

``preview_roster`` checks the file exactly as ``import_roster`` does and compares it with the
database without writing anything; ``import_for`` checks the manager's scope again and imports.

Scope: the manager's own committee (the one of their branch). A committee admin may import rows
for any branch of it (new branches are created, as the CLI does). A branch manager (书记,
副书记, 组织委员) may import rows of their own branch only, may not move in a member registered
in another branch, and may neither give nor change the powers they lack (the rule of binding
codes, models.org.may_manage_binding): such rows are refused by number, nothing is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from handlers.errors import DomainError
from handlers.roster.access import require_role
from handlers.roster.checks import Entry, check_rows, existing_members, present_columns
from handlers.roster.development import day_changes
from handlers.roster.rows import LABELS, RosterError, Settings, parse_roster
from handlers.roster.writing import ImportReport, import_roster
from handlers.sheets import RowError, chunks, row_error
from models.org import (
    BRANCH_MANAGERS,
    POWER_ROLES,
    ROLES,
    STATUSES,
    Branch,
    Committee,
    Member,
    PartyGroup,
)


@dataclass(frozen=True)
class RowChange:
    """One row of the file and what it changes (empty for a new member)."""

    row_number: int
    name: str
    phone: str
    branch: str
    fields: list[str] = field(default_factory=list)  # "党员状态：预备党员 → 正式党员"


@dataclass(frozen=True)
class RosterPreview:
    committee: Committee
    rows: int
    created: list[RowChange]
    changed: list[RowChange]
    unchanged: int
    branches_created: list[str]
    groups_created: list[str]  # "支部 / 党小组"
    dues_set: int  # members who would get a new dues category or base


@dataclass(frozen=True)
class _Stored:
    """The committee's branch and group names, to compare the file's names with."""

    branches: dict[int, str]  # id -> name
    groups: dict[int, tuple[int, str]]  # id -> (branch id, name)


def _stored(committee: Committee) -> _Stored:
    branches = dict(
        Branch.select(Branch.id, Branch.name).where(Branch.committee == committee.id).tuples()
    )
    groups: dict[int, tuple[int, str]] = {}
    for chunk in chunks(sorted(branches)):
        query = PartyGroup.select(PartyGroup.id, PartyGroup.branch, PartyGroup.name)
        for g in query.where(PartyGroup.branch.in_(chunk)):
            groups[g.id] = (g.branch_id, g.name)
    return _Stored(branches, groups)


def _roles_text(codes: str) -> str:
    return "、".join(ROLES.get(c, c) for c in codes.split(",") if c) or "无"


def _shown(key: str, value: Any) -> str:
    """A stored or imported value as the preview shows it."""
    if value is None or value == "":
        return "无" if key == "roles" else "（空）"
    if key == "status":
        return STATUSES.get(value, value)
    if key == "roles":
        return _roles_text(value)
    if isinstance(value, date):
        return f"{value:%Y-%m-%d}"
    return str(value)


def _changes(
    entry: Entry, member: dict[str, Any], stored: _Stored, present: frozenset[str]
) -> list[str]:
    """What importing the row would change on the stored member, as the writer decides it."""
    old_branch = stored.branches.get(member["branch"], "")
    old_group = stored.groups.get(member["party_group"], (0, None))[1]
    pairs: list[tuple[str, Any, Any]] = [
        ("name", member["name"], entry.name),
        ("branch", old_branch, entry.branch),
    ]
    if "group" in present:
        pairs.append(("group", old_group, entry.group))
    elif old_branch != entry.branch and old_group is not None:
        pairs.append(("group", old_group, None))  # the old group belongs to the old branch
    for key in ("status", "roles", "joined_on", "full_on", "birth_date"):
        if key in present:
            pairs.append((key, member[key], getattr(entry, key)))
    pairs += day_changes(entry, member, present)
    return [
        f"{LABELS[key]}：{_shown(key, old)} → {_shown(key, new)}"
        for key, old, new in pairs
        if old != new
    ]


def _scope_errors(
    actor: Member,
    entries: list[Entry],
    existing: dict[str, dict[str, Any]],
    stored: _Stored,
    present: frozenset[str],
) -> list[RowError]:
    """The rows a branch manager may not import (none for a committee admin)."""
    if actor.has_role("committee_admin"):
        return []
    own = actor.branch.name
    lacking = set(POWER_ROLES) - actor.role_set
    errors: list[RowError] = []
    for e in entries:
        member = existing.get(e.phone)
        if e.branch != own:
            text = (
                f"支部“{e.branch}”不是您的支部（{own}），只能导入本支部的党员，"
                "其他支部请由党委管理员导入"
            )
        elif member is not None and member["branch"] != actor.branch_id:
            where = stored.branches.get(member["branch"], "其他支部")
            text = f"手机号“{e.phone}”已登记在“{where}”，不能由您调入本支部，请由党委管理员办理"
        elif member is not None and lacking & set(member["roles"].split(",")):
            if not _changes(e, member, stored, present):
                continue
            text = f"{member['name']}担任您所没有的职务，不能由您修改，请由党委管理员办理"
        elif "roles" in present and lacking & set(e.roles.split(",")):
            given = _roles_text(",".join(sorted(lacking & set(e.roles.split(",")))))
            text = f"职务含有您所没有的“{given}”，不能由您任命，请由党委管理员办理"
        else:
            continue
        errors.append(row_error(e.row_number, text))
    return errors


def _committee_of(actor: Member) -> Committee:
    require_role(actor, *BRANCH_MANAGERS, "committee_admin")
    return Committee.get_by_id(actor.branch.committee_id)


def preview_roster(
    actor: Member, path: str | os.PathLike[str], *, settings: Settings, now: datetime
) -> RosterPreview:
    """Check a roster file for the manager's committee and say what importing it would change.

    Writes nothing. Bad rows, and rows outside the manager's scope, raise RosterError with
    every one of them by number, as ``import_roster`` does.
    """
    committee = _committee_of(actor)
    rows = parse_roster(path, settings=settings)
    if not rows:
        raise DomainError("名册中没有党员数据（表头下面是空的）。")
    entries, errors = check_rows(rows, committee, settings=settings, now=now)
    if errors:
        raise RosterError(errors)
    present = present_columns(rows)
    stored = _stored(committee)
    existing = existing_members([e.phone for e in entries])
    errors = _scope_errors(actor, entries, existing, stored, present)
    if errors:
        raise RosterError(errors)
    created, changed, unchanged = [], [], 0
    for e in entries:
        member = existing.get(e.phone)
        if member is None:
            created.append(RowChange(e.row_number, e.name, e.phone, e.branch))
        elif fields := _changes(e, member, stored, present):
            changed.append(RowChange(e.row_number, e.name, e.phone, e.branch, fields))
        else:
            unchanged += 1
    known = set(stored.branches.values())
    branch_ids = {name: i for i, name in stored.branches.items()}
    known_groups = set(stored.groups.values())
    new_groups = {
        (e.branch, e.group)
        for e in entries
        if e.group and (branch_ids.get(e.branch), e.group) not in known_groups
    }
    return RosterPreview(
        committee=committee,
        rows=len(entries),
        created=created,
        changed=changed,
        unchanged=unchanged,
        branches_created=sorted({e.branch for e in entries} - known),
        groups_created=[f"{b} / {g}" for b, g in sorted(new_groups)],
        dues_set=sum(1 for e in entries if e.dues_new),
    )


def import_for(
    actor: Member, path: str | os.PathLike[str], *, settings: Settings, now: datetime
) -> ImportReport:
    """Import a roster file into the manager's committee, within their scope (see the module).

    The file is checked again (it may have gone stale since its preview); any bad row or row
    outside the scope writes nothing.
    """
    committee = preview_roster(actor, path, settings=settings, now=now).committee
    return import_roster(path, committee.name, now=now, settings=settings, actor=actor)
