"""Developing members (发展党员): each person's steps from the application to full membership,
the time rules between them, the secretary's reminders and the committee's counts.

The package re-exports its public names: ``from handlers import development`` and
``development.record_step(...)`` whichever module holds the use case.
"""

from handlers.development.alerts import Ahead, OverdueStep, deadlines_ahead, overdue_steps
from handlers.development.base import manages
from handlers.development.changes import correct_step, remove_step
from handlers.development.checks import StepInput
from handlers.development.corrections import Correction
from handlers.development.rules import (
    PIPELINE,
    Days,
    Deadline,
    NextStep,
    add_months,
    day_text,
    probation_end,
)
from handlers.development.steps import record_step
from handlers.development.views import (
    BranchCounts,
    Contact,
    Detail,
    PersonView,
    PipelinePage,
    ReviewView,
    StepDay,
    committee_counts,
    committee_development,
    my_development,
    overview,
    person_detail,
    pipeline,
)

__all__ = [
    "PIPELINE",
    "Ahead",
    "BranchCounts",
    "Contact",
    "Correction",
    "Days",
    "Deadline",
    "Detail",
    "NextStep",
    "OverdueStep",
    "PersonView",
    "PipelinePage",
    "ReviewView",
    "StepDay",
    "StepInput",
    "add_months",
    "committee_counts",
    "committee_development",
    "correct_step",
    "day_text",
    "deadlines_ahead",
    "manages",
    "my_development",
    "overdue_steps",
    "overview",
    "person_detail",
    "pipeline",
    "probation_end",
    "record_step",
    "remove_step",
]
