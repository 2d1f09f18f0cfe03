"""Confirmed volunteer service per branch and month: hours, people and entries, for the
monthly report and the committee, in one grouped query whatever the number of branches.
Counts only: no member's hours leave their branch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from peewee import fn

from models.org import Branch
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
