"""Drop two indexes that every check-in wrote and no query reads.

- ``studycheckin_member_id``: the unique (member_id, day, topic_key) index starts with the
  member, so it serves every lookup by member, and the cascade from a deleted member, as well.
- ``inboundmessage_openid``: the dedupe rows are found by their key and pruned by their age;
  nothing looks them up by sender.

Each was a page of its own written at every check-in.
"""


def up(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "studycheckin_member_id"')
    db.execute_sql('DROP INDEX IF EXISTS "inboundmessage_openid"')


def down(migrator, db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "studycheckin_member_id" ON "study_checkin" ("member_id")'
    )
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "inboundmessage_openid" ON "inbound_message" ("openid")'
    )
