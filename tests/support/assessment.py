"""Branch assessment test data: a branch that meets the later criteria in November 2026."""

from __future__ import annotations

from datetime import date

from models.org import PARTY_MEMBER_STATUSES, Branch, Member
from models.organization import BranchTerm
from models.training import TrainingRecord
from models.volunteer import VolunteerEntry


def meets_later_criteria(branch: Branch) -> None:
    """Each party member of the branch with 30 学时 recorded in March (the bar to November is
    29⅓ hours) and an hour's volunteer service confirmed on 7 November, and a committee term
    current until March 2028. Nothing of the development pipeline falls due."""
    for member in Member.select().where(
        Member.branch == branch, Member.status.in_(PARTY_MEMBER_STATUSES)
    ):
        TrainingRecord.create(
            member=member, branch=branch, title="县委党校培训", day=date(2026, 3, 2), minutes=1800
        )
        VolunteerEntry.create(
            member=member,
            branch=branch,
            day=date(2026, 11, 7),
            minutes=60,
            description="社区清扫",
            status="confirmed",
        )
    BranchTerm.create(branch=branch, started_on=date(2025, 3, 1))
