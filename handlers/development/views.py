"""Developing members as people read them: a branch's pipeline (each person's stage, next
step, deadline), one person's record, a member's own record, and the committee's counts per
branch (never people across branches)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from core.config import Settings
from handlers.development.base import (
    Person,
    local_today,
    managed_branch,
    managed_person,
    manages,
    people,
    person_of,
    pipeline_days,
)
from handlers.development.rules import (
    PIPELINE,
    Deadline,
    NextStep,
    deadline,
    next_step,
    probation_end,
)
from handlers.errors import Forbidden
from handlers.privacy.reads import note_member_read
from models.development import STEPS, DevelopmentReview
from models.org import STATUSES, Branch, Member

# The steps a record shows as its timeline, in order (reviews are listed on their own).
TIMELINE = (
    ("apply", "applied_on"),
    ("talk", "talked_on"),
    ("activist", "activist_on"),
    ("contacts", "contacts_on"),
    ("candidate", "candidate_on"),
    ("political_review", "political_review_on"),
    ("training", "training_on"),
    ("admit", "admitted_on"),
    ("extend", "extended_on"),
    ("full", "full_on"),
)


@dataclass(frozen=True)
class PersonView:
    """A person judged on ``today``: what is owed by when, and what moves them on."""

    person: Person
    deadline: Deadline | None
    next: NextStep | None
    today: date

    @property
    def member(self) -> Member:
        return self.person.member

    @property
    def stage_label(self) -> str:
        return STATUSES.get(self.member.status, self.member.status)

    @property
    def overdue(self) -> bool:
        return self.deadline is not None and self.deadline.overdue(self.today)

    @property
    def days_left(self) -> int | None:
        return self.deadline.days_left(self.today) if self.deadline else None

    @property
    def next_allowed(self) -> bool:
        """Whether the next step may be recorded today (its earliest day has come)."""
        return self.next is not None and (
            self.next.earliest is None or self.next.earliest <= self.today
        )


def view_of(person: Person, today: date, settings: Settings) -> PersonView:
    days = person.days
    return PersonView(person, deadline(days, settings), next_step(days, settings), today)


@dataclass(frozen=True)
class StepDay:
    step: str
    label: str
    on: date | None


@dataclass(frozen=True)
class ReviewView:
    on: date
    note: str


@dataclass(frozen=True)
class Contact:
    id: int
    name: str


@dataclass(frozen=True)
class Detail:
    """One person's record: the view, every step's day, reviews, contacts, probation."""

    view: PersonView
    steps: list[StepDay]
    reviews: list[ReviewView]  # oldest first
    contacts: list[Contact]
    probation_ends: date | None
    extension_months: int | None
    extension_reason: str


def detail_of(person: Person, today: date, settings: Settings, *, notes: bool = True) -> Detail:
    """The record of one person; ``notes`` False leaves out the reviews' findings."""
    view = view_of(person, today, settings)
    record = person.record
    steps = [
        StepDay(step, STEPS[step], getattr(record, name) if record is not None else None)
        for step, name in TIMELINE
    ]
    if record is None and person.member.joined_on:
        steps[7] = StepDay("admit", STEPS["admit"], person.member.joined_on)
    reviews: list[ReviewView] = []
    contacts: list[Contact] = []
    if record is not None:
        rows = DevelopmentReview.select().where(DevelopmentReview.record == record.id)
        reviews = [
            ReviewView(r.on, r.note if notes else "") for r in rows.order_by(DevelopmentReview.on)
        ]
        ids = [i for i in (record.contact_1_id, record.contact_2_id) if i]
        if ids:
            names = dict(Member.select(Member.id, Member.name).where(Member.id.in_(ids)).tuples())
            contacts = [Contact(i, names[i]) for i in ids if i in names]
    days = person.days
    ends = (
        probation_end(days.admitted_on, days.extension_months, settings)
        if days.admitted_on and person.member.status in ("probationary", "full")
        else None
    )
    return Detail(
        view,
        steps,
        reviews,
        contacts,
        ends,
        record.extension_months if record is not None else None,
        record.extension_reason if record is not None else "",
    )


@dataclass(frozen=True)
class PipelinePage:
    branch: Branch
    items: list[PersonView]
    total: int
    limit: int
    offset: int
    stages: dict[str, int]  # people per stage (of the whole branch, unfiltered)
    overdue: int  # people with a deadline passed (of the whole branch)


def _order(view: PersonView) -> tuple[int, int, date, int]:
    due = view.deadline.due if view.deadline else date.max
    return (0 if view.overdue else 1, PIPELINE.index(view.member.status), due, view.member.id)


def pipeline(
    actor: Member,
    branch_id: int | None,
    *,
    stage: str | None = None,
    overdue: bool | None = None,
    now: datetime,
    settings: Settings,
    limit: int,
    offset: int,
) -> PipelinePage:
    """The branch's people in development for its managers: overdue ones first, then by
    stage and deadline; filtered by stage and overdue."""
    branch = managed_branch(actor, branch_id)
    today = local_today(now, settings)
    views = [view_of(p, today, settings) for p in people(Member.branch == branch.id)]
    stages = Counter(v.member.status for v in views)
    late = sum(1 for v in views if v.overdue)
    if stage:
        views = [v for v in views if v.member.status == stage]
    if overdue is not None:
        views = [v for v in views if v.overdue == overdue]
    views.sort(key=_order)
    return PipelinePage(
        branch,
        views[offset : offset + limit],
        len(views),
        limit,
        offset,
        {s: stages.get(s, 0) for s in PIPELINE},
        late,
    )


def person_detail(actor: Member, member_id: int, *, now: datetime, settings: Settings) -> Detail:
    """One person's development record, for the managers of their branch (noted in the read
    log, 查阅记录)."""
    person = managed_person(actor, member_id)
    found = detail_of(person_of(person), local_today(now, settings), settings)
    note_member_read(actor, person, "development", now=now)
    return found


def my_development(member: Member, *, now: datetime, settings: Settings) -> Detail:
    """The member's own record (the reviews' days, not their findings)."""
    return detail_of(person_of(member), local_today(now, settings), settings, notes=False)


def overview(
    member: Member, *, now: datetime, settings: Settings, limit: int
) -> PipelinePage | Detail:
    """What 发展 shows a member: the branch's pipeline to its managers, else their own record."""
    if manages(member, member.branch_id):
        return pipeline(member, None, now=now, settings=settings, limit=limit, offset=0)
    return my_development(member, now=now, settings=settings)


@dataclass(frozen=True)
class BranchCounts:
    """One branch's pipeline: people per stage, and how many have a step overdue."""

    branch_id: int
    stages: dict[str, int]
    overdue: int

    @property
    def total(self) -> int:
        return sum(self.stages.values())


def committee_counts(
    committee_id: int, today: date, settings: Settings
) -> dict[int, BranchCounts]:
    """Every branch of the committee's counts (zeros for a branch with nobody), in a constant
    number of queries however many branches."""
    branches = Branch.select(Branch.id).where(Branch.committee == committee_id)
    found = {b: {"stages": Counter(), "overdue": 0} for (b,) in branches.tuples()}
    for branch_id, days in pipeline_days(Member.branch.in_(branches)):
        counts = found[branch_id]
        counts["stages"][days.status] += 1
        due = deadline(days, settings)
        counts["overdue"] += due is not None and due.overdue(today)
    return {
        b: BranchCounts(b, {s: c["stages"].get(s, 0) for s in PIPELINE}, c["overdue"])
        for b, c in found.items()
    }


def committee_development(
    actor: Member, *, now: datetime, settings: Settings
) -> dict[int, BranchCounts]:
    """The committee admin's counts of every branch of their committee: no names."""
    if not actor.has_role("committee_admin"):
        raise Forbidden("没有权限进行此操作。")
    return committee_counts(actor.branch.committee_id, local_today(now, settings), settings)
