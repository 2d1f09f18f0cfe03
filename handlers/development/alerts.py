"""What the scheduler reads of developing members, for every branch at once: the deadlines
the secretaries are reminded of ahead, and the steps overdue in their digests. Each in a
constant number of queries however many branches there are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from core.config import Settings
from handlers.development.base import people
from handlers.development.rules import Days, candidate_earliest
from handlers.development.views import view_of
from models.org import Member

# The steps the digest lists as overdue; the end of probation is its own line (转正).
DIGEST_STEPS = ("talk", "review")


@dataclass(frozen=True)
class Ahead:
    """A deadline coming: ``step`` (talk, review, full; candidate: the activist's year is
    complete and they may be proposed) for a person, due on ``due``."""

    branch_id: int
    member_id: int
    name: str
    status: str
    step: str
    due: date
    since: date | None  # the day the span runs from (application, last review, admission)


def _lead(step: str, settings: Settings) -> int:
    cfg = settings.development
    return {
        "talk": cfg.remind_talk_days,
        "review": cfg.remind_review_days,
        "full": cfg.remind_probation_days,
        "candidate": cfg.remind_activist_year_days,
    }[step]


def _since(step: str, days: Days) -> date | None:
    if step == "talk":
        return days.applied_on
    if step == "review":
        return max((d for d in (days.last_review_on, days.activist_on) if d), default=None)
    if step == "full":
        return days.admitted_on
    return days.activist_on


def deadlines_ahead(today: date, settings: Settings) -> list[Ahead]:
    """Every deadline due within its reminder's lead time (today up to the day itself)."""
    found: list[Ahead] = []
    for person in people(None):
        view = view_of(person, today, settings)
        days, m = person.days, person.member
        due_steps = []
        if view.deadline is not None:
            due_steps.append((view.deadline.step, view.deadline.due))
        if m.status == "activist" and days.activist_on:
            due_steps.append(("candidate", candidate_earliest(days.activist_on, settings)))
        for step, due in due_steps:
            if due - timedelta(days=_lead(step, settings)) <= today <= due:
                found.append(
                    Ahead(m.branch_id, m.id, m.name, m.status, step, due, _since(step, days))
                )
    return found


@dataclass(frozen=True)
class OverdueStep:
    """A step past its deadline, as the secretary's digest names it."""

    branch_id: int
    member_id: int
    name: str
    step: str
    due: date
    days: int  # days past the deadline
    since: date | None  # the application, or the last review (or the activist decision)


def overdue_steps(
    today: date, settings: Settings, branch_ids: set[int] | None
) -> list[OverdueStep]:
    """The talks and reviews past their deadline (of ``branch_ids``, or every branch)."""
    where = Member.branch.in_(list(branch_ids)) if branch_ids is not None else None
    found = []
    for person in people(where):
        view = view_of(person, today, settings)
        if view.overdue and view.deadline.step in DIGEST_STEPS:
            m, due = person.member, view.deadline.due
            late = (today - due).days
            step = view.deadline.step
            since = _since(step, person.days)
            found.append(OverdueStep(m.branch_id, m.id, m.name, step, due, late, since))
    return found
