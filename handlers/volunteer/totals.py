"""Confirmed volunteer service per branch and month: hours, people and entries, for the
monthly report and the committee, in one grouped query whatever the number of branches.
Counts only: no member's hours leave their branch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from peewee import JOIN, Case, Expression, fn

from models.org import PARTY_MEMBER_STATUSES, Branch, Member
from models.volunteer import VolunteerEntry


@dataclass(frozen=True)
class BranchService:
    minutes: int = 0
    people: int = 0
    entries: int = 0


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def month_service(
    first: date, *, branch_id: int | None = None, committee_id: int | None = None
) -> dict[int, BranchService]:
    """{branch id: confirmed service of the month} for one branch or a committee's branches."""
    where = [
        VolunteerEntry.status == "confirmed",
        VolunteerEntry.day >= first,
        VolunteerEntry.day < next_month(first),
    ]
    if branch_id is not None:
        where.append(VolunteerEntry.branch == branch_id)
    if committee_id is not None:
        ours = Branch.select(Branch.id).where(Branch.committee == committee_id)
        where.append(VolunteerEntry.branch.in_(ours))
    query = (
        VolunteerEntry.select(
            VolunteerEntry.branch,
            fn.SUM(VolunteerEntry.minutes),
            fn.COUNT(fn.DISTINCT(VolunteerEntry.member)),
            fn.COUNT(VolunteerEntry.id),
        )
        .where(*where)
        .group_by(VolunteerEntry.branch)
        .tuples()
    )
    return {b: BranchService(int(m or 0), int(p), int(n)) for b, m, p, n in query}


@dataclass(frozen=True)
class BranchShare:
    """A branch's party members against an expected service each in a month: each member's
    confirmed minutes counted up to it (``counted``), and how many served at all."""

    members: int
    counted: int  # minutes, each member's capped at the expected minutes
    served: int


def month_share(first: date, members: Expression, expected_minutes: int) -> dict[int, BranchShare]:
    """{branch id: its party members' confirmed service in the month against
    ``expected_minutes`` each} for the members matching ``members`` (a condition on
    Member.branch), in one statement. Counts only: no member's hours leave their branch."""
    entry = VolunteerEntry
    served = (
        entry.select(entry.member.alias("member_id"), fn.SUM(entry.minutes).alias("minutes"))
        .where(
            entry.status == "confirmed",
            entry.day >= first,
            entry.day < next_month(first),
            entry.member.in_(Member.select(Member.id).where(members)),
        )
        .group_by(entry.member)
        .alias("served")
    )
    minutes = fn.COALESCE(served.c.minutes, 0)
    query = (
        Member.select(
            Member.branch,
            fn.COUNT(Member.id),
            fn.SUM(Case(None, [(minutes < expected_minutes, minutes)], expected_minutes)),
            fn.SUM(Case(None, [(minutes > 0, 1)], 0)),
        )
        .join(served, JOIN.LEFT_OUTER, on=(served.c.member_id == Member.id))
        .where(members, Member.status.in_(PARTY_MEMBER_STATUSES))
        .group_by(Member.branch)
        .tuples()
    )
    return {b: BranchShare(int(n), int(c or 0), int(s or 0)) for b, n, c, s in query}
