"""What the scheduler says to whom: study prompts, nudges, summaries, meeting reminders, digests.

Each function returns the outbox rows (Outgoing) for every branch at once, in a constant number
of queries however many branches and members there are; the jobs only enqueue them. Keys
(kind, target, period) make a repeated run produce nothing new.
"""

from handlers.reminders.common import is_workday
from handlers.reminders.contact import committee_members, lost_contact
from handlers.reminders.development import development_reminders
from handlers.reminders.digest import (
    BranchAlerts,
    committee_digests,
    digest_lines,
    people_alerts,
    secretary_alerts,
    secretary_digests,
)
from handlers.reminders.dues import dues_reminders
from handlers.reminders.meetings import meeting_reminders, meeting_summaries
from handlers.reminders.organization import organization_lines, term_reminders
from handlers.reminders.rectification import rectification_reminders
from handlers.reminders.study import (
    StudyRate,
    how_to_check_in,
    study_nudges,
    study_participation,
    study_prompts,
    study_summaries,
    topic_material,
)
from handlers.reminders.volunteer import volunteer_prompts
from handlers.study.nudges import cancel_nudge

__all__ = [
    "BranchAlerts",
    "StudyRate",
    "cancel_nudge",
    "committee_digests",
    "committee_members",
    "development_reminders",
    "digest_lines",
    "dues_reminders",
    "how_to_check_in",
    "is_workday",
    "lost_contact",
    "meeting_reminders",
    "meeting_summaries",
    "organization_lines",
    "people_alerts",
    "rectification_reminders",
    "secretary_alerts",
    "secretary_digests",
    "study_nudges",
    "study_participation",
    "study_prompts",
    "study_summaries",
    "term_reminders",
    "topic_material",
    "volunteer_prompts",
]
