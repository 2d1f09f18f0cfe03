"""One row per job run and tick: the log of the scheduler, and its guard against doubles."""

from __future__ import annotations

from peewee import BooleanField, CharField, TextField

from models.base import BaseModel, UTCDateTimeField


class JobRun(BaseModel):
    job_id = CharField(max_length=64)
    # The due time the run is for (ISO, UTC), or "manual:<time>" for `jobs run`. Unique with
    # job_id, so two processes can never both run one tick.
    tick = CharField(max_length=64)
    holder = CharField(max_length=128)
    started_at = UTCDateTimeField(index=True)
    finished_at = UTCDateTimeField(null=True)
    ok = BooleanField(null=True)
    detail = TextField(default="")

    class Meta:
        indexes = ((("job_id", "tick"), True),)
