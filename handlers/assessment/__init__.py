"""Branch assessment (星级评定, 五好党支部): a transparent monthly score for each branch from
what its records show, with a breakdown per criterion and a trend by month.

criteria: the registry (one function per criterion; how to add one); scores:
weights, renormalisation, stars and ranks; store: judged once per branch and month, stored,
read; views: the use cases (committee table, branch detail, operator's table, backfill, job).
Branches are ranked, people never.
"""

from handlers.assessment.criteria import LABELS, NO_DATA, REGISTRY, Measure, Scope, criterion
from handlers.assessment.scores import STAR_LABELS, Part, Score, ranked, score_branch, weights
from handlers.assessment.views import (
    BranchAssessment,
    CommitteeAssessment,
    assessed_month,
    assessment_named,
    backfill,
    branch_assessment,
    committee_assessment,
    committee_scores,
    last_complete_month,
    store_last_month,
)

__all__ = [
    "LABELS",
    "NO_DATA",
    "REGISTRY",
    "STAR_LABELS",
    "BranchAssessment",
    "CommitteeAssessment",
    "Measure",
    "Part",
    "Scope",
    "Score",
    "assessed_month",
    "assessment_named",
    "backfill",
    "branch_assessment",
    "committee_assessment",
    "committee_scores",
    "criterion",
    "last_complete_month",
    "ranked",
    "score_branch",
    "store_last_month",
    "weights",
]
