"""What the reminder modules share: the local time zone, workdays, channelled branches and who
hears about a branch."""

from __future__ import annotations

import operator
from datetime import date
from functools import reduce
from zoneinfo import ZoneInfo

from core.config import Settings
from core.workdays import work_calendar
from models.org import BRANCH_MANAGERS, Branch, Member
from models.outbox import BranchChannel


def local_zone(settings: Settings) -> ZoneInfo:
    """The configured time zone, in which days and periods are counted."""
    return ZoneInfo(settings.app.timezone)


def is_workday(day: date, settings: Settings) -> bool:
    """A working day on China's calendar, with the configured corrections (core.workdays)."""
    return work_calendar(settings).is_workday(day)


def channelled_branches(flag: str | None = None) -> list[Branch]:
    """Branches with a group channel (optionally only those with a flag turned on)."""
    query = Branch.select(Branch).join(BranchChannel, on=BranchChannel.branch == Branch.id)
    if flag is not None:
        query = query.where(getattr(BranchChannel, flag) == True)  # noqa: E712 - SQL
    return list(query.order_by(Branch.id))


def manager_ids(branch_ids: set[int] | None) -> dict[int, int]:
    """Who hears about a branch (of `branch_ids`, or every one: None): its secretary, else
    deputy, else organizer; their member ids by branch id."""
    found: dict[int, tuple[int, int]] = {}
    # Only people whose roles mention one of those can be one (a superset: LIKE '%…%').
    holds = reduce(operator.or_, (Member.roles.contains(role) for role in BRANCH_MANAGERS))
    query = Member.select(Member.id, Member.branch, Member.roles).where(holds)
    if branch_ids is not None:
        query = query.where(Member.branch.in_(list(branch_ids)))
    # Plain rows: Member objects for every manager of 2,000 branches cost more than the rest.
    for member_id, branch_id, roles in query.order_by(Member.id).tuples():
        held = set(roles.split(","))  # Member.role_set
        for rank, role in enumerate(BRANCH_MANAGERS):
            if role in held and (branch_id not in found or rank < found[branch_id][0]):
                found[branch_id] = (rank, member_id)
    return {branch_id: member_id for branch_id, (_, member_id) in found.items()}
