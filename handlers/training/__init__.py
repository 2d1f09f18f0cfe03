"""学时: each party member's concentrated study and training in a year — the counted meetings
attended (``training.meeting_kinds``, each worth its length up to a cap) and the training a
secretary recorded — against ``training.required_hours_per_year``.

The package re-exports its public names: ``from handlers import training``.
"""

from handlers.training.hours import (
    BranchProgress,
    BranchTraining,
    branch_progress,
    branch_totals,
    year_span,
)
from handlers.training.records import Recorded, add_training
from handlers.training.views import (
    BranchHours,
    Counted,
    MemberHours,
    MyTraining,
    YearHours,
    branch_training,
    committee_training,
    my_training,
    year_hours,
)

__all__ = [
    "BranchHours",
    "BranchProgress",
    "BranchTraining",
    "Counted",
    "MemberHours",
    "MyTraining",
    "Recorded",
    "YearHours",
    "add_training",
    "branch_progress",
    "branch_totals",
    "branch_training",
    "committee_training",
    "my_training",
    "year_hours",
    "year_span",
]
