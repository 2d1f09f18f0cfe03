"""Each branch's headline figures as last computed: what the committee comparison reads.

Computing them means judging every member's dues and every required meeting, seconds for a
city's 2,000 branches; the comparison reads these rows instead, refreshed by the
``branch_snapshots`` job (and on demand).
"""

from __future__ import annotations

from peewee import DateField, ForeignKeyField, IntegerField

from models.base import BaseModel, UTCDateTimeField
from models.org import Branch, Committee


class BranchSnapshot(BaseModel):
    branch = ForeignKeyField(Branch, unique=True, on_delete="CASCADE")
    committee = ForeignKeyField(Committee, index=True, on_delete="CASCADE")
    computed_at = UTCDateTimeField()
    as_of = DateField()  # the local day the figures are for
    month = DateField()  # the month's first day
    study_members = IntegerField(default=0)
    study_participants = IntegerField(default=0)
    study_checkins = IntegerField(default=0)
    meetings_required = IntegerField(default=0)
    meetings_satisfied = IntegerField(default=0)
    meetings_held = IntegerField(default=0)
    meetings_due = IntegerField(default=0)
    meetings_overdue = IntegerField(default=0)
    dues_expected_fen = IntegerField(null=True)  # null: nobody owes dues this month
    dues_collected_fen = IntegerField(null=True)
    alert_count = IntegerField(default=0)
    last_active_at = UTCDateTimeField(null=True)  # the latest interaction of any member
    # 学时 of the year so far (handlers.training.committee_training): 0 = not computed yet
    training_year = IntegerField(default=0)
    training_members = IntegerField(default=0)  # party members counted
    training_minutes = IntegerField(default=0)  # their minutes together
    training_below = IntegerField(default=0)  # members under the year's required hours
