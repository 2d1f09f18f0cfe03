"""Give each mini-program API session a random token id: the "sid" its token carries.

Tokens used to carry the row id, which counts up; a token now names its session by a random
id. Existing sessions get one each; tokens issued before this migration carry the old integer
id and are refused (the mini-program logs in again).
"""

import secrets

from peewee import CharField, Model


def up(migrator, db):
    class ApiSession(Model):
        token_id = CharField(max_length=32, null=True)

        class Meta:
            database = db
            table_name = "api_session"

    migrator.migrate(
        migrator.add_column("api_session", "token_id", CharField(max_length=32, null=True))
    )
    ids = [row_id for (row_id,) in ApiSession.select(ApiSession.id).tuples()]
    for row_id in ids:
        ApiSession.update(token_id=secrets.token_urlsafe(24)).where(
            ApiSession.id == row_id
        ).execute()
    migrator.migrate(
        migrator.add_not_null("api_session", "token_id"),
        migrator.add_index("api_session", ("token_id",), unique=True),
    )


def down(migrator, db):
    migrator.migrate(
        migrator.drop_index("api_session", "api_session_token_id"),
        migrator.drop_column("api_session", "token_id"),
    )
