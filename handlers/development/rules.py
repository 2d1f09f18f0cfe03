"""The time rules of developing members, as plain functions of a person's days.

Every span is a setting ([development], DOMAIN.md's defaults): the talk within a month of
the application, a year as an activist before becoming a development object, a review every
six months while an activist or development object, probation a year from admission (plus an
extension of 6 to 12 months). A person's *deadline* is the day by which the branch owes the
next thing (the talk, the next review, the discussion of 转正); their *next step* is the one
that moves them on, with the earliest day it is allowed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from core.config import Settings
from models.development import STEPS, DevelopmentRecord

# The stages a person in the pipeline is at (full members have finished it).
PIPELINE = ("applicant", "activist", "candidate", "probationary")
# Stages reviewed every review_every_months.
REVIEWED = ("activist", "candidate")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; the month's last day when it has no such day (31 Jan
    plus a month is 28 or 29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Days:
    """What the rules read of a person: their stage and the days recorded (None: unknown)."""

    status: str
    applied_on: date | None = None
    talked_on: date | None = None
    activist_on: date | None = None
    contacts_on: date | None = None
    candidate_on: date | None = None
    political_review_on: date | None = None
    training_on: date | None = None
    admitted_on: date | None = None
    extension_months: int | None = None
    last_review_on: date | None = None

    @classmethod
    def of(
        cls,
        status: str,
        record: DevelopmentRecord | None,
        joined_on: date | None,
        last_review_on: date | None,
    ) -> Days:
        """A person's days from their record (None: no record yet) and Member.joined_on."""
        if record is None:
            return cls(status, admitted_on=joined_on)
        return cls(
            status,
            applied_on=record.applied_on,
            talked_on=record.talked_on,
            activist_on=record.activist_on,
            contacts_on=record.contacts_on,
            candidate_on=record.candidate_on,
            political_review_on=record.political_review_on,
            training_on=record.training_on,
            admitted_on=record.admitted_on or joined_on,
            extension_months=record.extension_months,
            last_review_on=last_review_on,
        )


@dataclass(frozen=True)
class Deadline:
    """The day by which ``step`` is owed."""

    step: str
    due: date

    @property
    def label(self) -> str:
        return STEPS[self.step]

    def days_left(self, today: date) -> int:
        return (self.due - today).days

    def overdue(self, today: date) -> bool:
        return today > self.due


@dataclass(frozen=True)
class NextStep:
    """The step that moves the person on, and the earliest day it is allowed (None: any)."""

    step: str
    earliest: date | None

    @property
    def label(self) -> str:
        return STEPS[self.step]


def probation_end(admitted_on: date, extension_months: int | None, settings: Settings) -> date:
    """The last day of probation: admission plus probation_months, plus any extension."""
    months = settings.development.probation_months + (extension_months or 0)
    return add_months(admitted_on, months)


def candidate_earliest(activist_on: date, settings: Settings) -> date:
    """The first day an activist may become a development object."""
    return add_months(activist_on, settings.development.activist_min_months)


def talk_due(applied_on: date, settings: Settings) -> date:
    return add_months(applied_on, settings.development.talk_within_months)


def review_due(days: Days, settings: Settings) -> date | None:
    """The day the next review is owed: review_every_months after the last review, or after
    the activist decision when there has been none."""
    since = max((d for d in (days.last_review_on, days.activist_on) if d), default=None)
    return add_months(since, settings.development.review_every_months) if since else None


def deadline(days: Days, settings: Settings) -> Deadline | None:
    """What the branch owes the person next, and by when (None: nothing with a deadline)."""
    if days.status == "applicant" and days.applied_on and not days.talked_on:
        return Deadline("talk", talk_due(days.applied_on, settings))
    if days.status in REVIEWED:
        due = review_due(days, settings)
        return Deadline("review", due) if due else None
    if days.status == "probationary" and days.admitted_on:
        return Deadline("full", probation_end(days.admitted_on, days.extension_months, settings))
    return None


def next_step(days: Days, settings: Settings) -> NextStep | None:
    """The step that moves the person on (None for a full member)."""
    status = days.status
    if status == "applicant":
        if not days.applied_on:
            return NextStep("apply", None)
        return NextStep("activist", None) if days.talked_on else NextStep("talk", None)
    if status == "activist":
        if not days.contacts_on:
            return NextStep("contacts", None)
        earliest = candidate_earliest(days.activist_on, settings) if days.activist_on else None
        return NextStep("candidate", earliest)
    if status == "candidate":
        for step, done in (
            ("political_review", days.political_review_on),
            ("training", days.training_on),
        ):
            if not done:
                return NextStep(step, None)
        return NextStep("admit", None)
    if status == "probationary":
        if not days.admitted_on:
            return NextStep("full", None)
        return NextStep("full", probation_end(days.admitted_on, days.extension_months, settings))
    return None
