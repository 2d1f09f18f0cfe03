"""Retention: the prune job blanks old study reflections, cuts the text of old finished outbox
messages and deletes dead sessions and old run records, in chunks found through an index.

- ``outbox_message.pruned_at``: when a row's payload was cut (null while it is whole).
- Partial indexes: check-ins that still hold a reflection, by day; outbox rows whose payload is
  whole, by creation. Rows leave them once pruned, so each night's run reads only what it
  changes, not the years of check-ins and messages behind it.
- ``api_session.expires_at`` and ``job_run.started_at``: the two other tables that grow by the
  hundred thousand (a session per login; a run record every ten seconds for the drain).
"""

from peewee import SQL

from models.base import UTCDateTimeField


def up(migrator, db):
    migrator.migrate(
        migrator.add_column("outbox_message", "pruned_at", UTCDateTimeField(null=True)),
        migrator.add_index(
            "outbox_message",
            ("created_at",),
            name="outbox_message_unpruned_created_at",
            where=SQL('"pruned_at" IS NULL'),
        ),
        migrator.add_index(
            "study_checkin",
            ("day",),
            name="study_checkin_reflected_day",
            where=SQL("\"reflection\" != ''"),
        ),
        migrator.add_index("api_session", ("expires_at",)),
        migrator.add_index("job_run", ("started_at",)),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("job_run", "job_run_started_at"),
        migrator.drop_index("api_session", "api_session_expires_at"),
        migrator.drop_index("study_checkin", "study_checkin_reflected_day"),
        migrator.drop_index("outbox_message", "outbox_message_unpruned_created_at"),
        migrator.drop_column("outbox_message", "pruned_at"),
    )
