"""The branch organization's reminders: the committee's term ending (to the secretary and the
branch committee), and the committee admin's digest lines on terms, lost-contact cases and
party-affairs staff (counts and branch names, never people)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from core.config import Settings
from handlers.meetings import COMMITTEE_ROLES
from handlers.organization import BranchHealth, branches_health, day_text, due_terms
from handlers.organization.base import local_today, named_branches
from handlers.outbox import Outgoing
from models.org import Member


def _committees(branch_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """The branch committee members (secretary and 委员) of these branches: (id, name)."""
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    query = Member.select(Member.id, Member.name, Member.branch, Member.roles).where(
        Member.branch.in_(branch_ids), Member.roles != ""
    )
    for member_id, name, branch_id, roles in query.order_by(Member.id).tuples():
        if set(roles.split(",")).intersection(COMMITTEE_ROLES):
            found[branch_id].append((member_id, name))
    return found


def term_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    """A note to the secretary and each branch committee member of every branch whose term
    ends within [terms] remind_first_months (then remind_last_months); one per term, stage and
    person, however many runs (a day the scheduler missed is caught up the next day)."""
    today = local_today(now, settings)
    due = due_terms(today, settings)
    if not due:
        return []
    people = _committees([d.term.branch_id for d in due])
    rows = []
    for d in due:
        term = d.term
        left = (term.ends_on - today).days
        text = (
            f"【换届提醒】{d.branch_name}委员会本届任期自 {day_text(term.started_on)} 起，"
            f"将于 {day_text(term.ends_on)} 届满（还有 {left} 天）。请提前向上级党组织报告，"
            f"做好换届选举的准备；选举后请在控制台或小程序中登记新一届任期。"
        )
        for member_id, name in people.get(term.branch_id, []):
            rows.append(
                Outgoing(
                    "term_due",
                    "member",
                    member_id,
                    f"{term.id}:{d.months}",
                    {"text": f"{name}同志：{text}", "title": "换届提醒"},
                    term.branch_id,
                )
            )
    return rows


def health_lines(branches: list[BranchHealth]) -> list[str]:
    """The committee admin's digest lines about these branches (one committee's)."""
    lines = []
    overdue = [b for b in branches if b.term.status == "overdue"]
    if overdue:
        named = named_branches(
            [
                f"{b.name}（{day_text(b.term.current.ends_on)}届满）"
                for b in overdue
                if b.term.current
            ]
        )
        lines.append(f"换届：{named}届期已满尚未换届，请督促按期换届并登记新一届任期")
    missing = [b.name for b in branches if b.term.status == "none"]
    if missing:
        lines.append(f"换届：{named_branches(missing)}未登记换届信息，请督促登记本届任期")
    lost = [b for b in branches if b.lost_contact_open]
    if lost:
        counts = named_branches([f"{b.name} {b.lost_contact_open} 人" for b in lost])
        lines.append(f"失联党员：{counts}失联尚未跟进，请督促支部联系")
    unstaffed = [b.name for b in branches if not b.affairs_staff]
    if unstaffed:
        lines.append(
            f"党务工作人员：{named_branches(unstaffed)}未指定党务专职人员，请在花名册“职务”中指定"
        )
    return lines


def organization_lines(now: datetime, settings: Settings) -> dict[int, list[str]]:
    """Each committee's digest lines on its branches' organization, by committee id."""
    by_committee: dict[int, list[BranchHealth]] = defaultdict(list)
    for branch in branches_health(now, settings):
        by_committee[branch.committee_id].append(branch)
    return {c: lines for c, found in by_committee.items() if (lines := health_lines(found))}
