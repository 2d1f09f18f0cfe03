"""Branch assessment (星级评定): each branch's figures per criterion for a month, as judged.

One row per branch, month and criterion: what was done of what was due (meetings met of those
due, members who studied of the party members, fen collected of fen expected, items done on
time of those due, minutes of 学时 or volunteer service counted of those expected, development
deadlines met of those due, a current committee term of one), and the text the breakdown
shows. ``due`` 0 means the criterion did not apply that month, and ``text`` says why. Weights
and star bands are applied when a score is shown (handlers.assessment), so changing them
re-scores every stored month alike.
"""

from __future__ import annotations

from peewee import BigIntegerField, CharField, DateField, ForeignKeyField

from core.clock import utcnow
from models.base import BaseModel, UTCDateTimeField
from models.org import Branch


class AssessmentFigure(BaseModel):
    branch = ForeignKeyField(Branch, backref="+", on_delete="CASCADE")
    month = DateField(index=True)  # the month's first day
    criterion = CharField(max_length=20)  # a name of core.config.ASSESSMENT_CRITERIA
    done = BigIntegerField(default=0)
    due = BigIntegerField(default=0)  # 0: does not apply this month
    text = CharField(max_length=120)  # "达标 4/5 项", or why it does not apply
    computed_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("branch", "month", "criterion"), True),)
