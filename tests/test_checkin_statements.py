"""The check-in callback's statements, counted: a new one on the hot path shows here."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import pytest

from core.clock import local_day, utcnow
from models.base import db, open_database
from models.migrate import upgrade
from tests import factories as f

# The member with the message's stored reply (none yet), the check-in (INSERT ... RETURNING),
# the nudge cancelled, the week's days, the activity note and the dedupe row. Today's topic was
# read for the branch by an earlier check-in and is kept (study.topic_cache_seconds).
DATA_STATEMENTS = 6


@pytest.fixture
def openids(app):
    with app.app_context(), db.connection_context():
        branch = f.branch()
        f.topic(local_day(utcnow(), ZoneInfo("Asia/Shanghai")), "数一数的主题", branch=branch)
        return [f.bound(f.member(name, branch), f"openid-{name}") for name in ("张三", "李四")]


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The statements peewee logged: data statements and savepoints (not BEGIN or COMMIT)."""
    return [r.msg[0] for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]


def test_a_check_in_takes_six_data_statements_and_no_savepoint(wechat, openids, caplog):
    first = wechat.send_text(openids[0], "学习 先来").reply  # reads the branch's topic
    assert first is not None and "《数一数的主题》" in first
    caplog.set_level(logging.DEBUG, logger="peewee")
    reply = wechat.send_text(openids[1], "学习 数一数").reply
    assert reply is not None and "学习打卡成功" in reply and "《数一数的主题》" in reply
    done = logged(caplog)
    data = [s for s in done if s.split(" ", 1)[0] in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    assert len(data) == DATA_STATEMENTS, data
    assert done == data, [s for s in done if s not in data]  # no SAVEPOINT, no RELEASE


# Every index of the two tables a check-in inserts into is a page written at each check-in.
# What each one is for: the table's key, the unique check-in per member, day and topic (it also
# serves every lookup by member), the topic's cascade, the retention prune; the dedupe key and
# the prune of old dedupe rows.
CHECKIN_INDEXES = {
    "study_checkin": {
        "studycheckin_member_id_day_topic_key",
        "studycheckin_topic_id",
        "study_checkin_reflected_day",
    },
    "inbound_message": {"inboundmessage_dedupe_key", "inboundmessage_created_at"},
}


def test_the_tables_a_check_in_writes_carry_no_index_nothing_reads(conn):
    for table, expected in CHECKIN_INDEXES.items():
        names = {index.name for index in db.get_indexes(table)}
        assert names - {f"{table}_pkey"} == expected, table


def test_a_member_s_check_ins_are_found_through_the_unique_index(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'plan.db'}")
    upgrade(database)
    plan = database.execute_sql(
        "EXPLAIN QUERY PLAN SELECT day FROM study_checkin WHERE member_id = ? AND day > ?",
        (1, "2026-01-01"),
    ).fetchall()
    database.close()
    assert any("studycheckin_member_id_day_topic_key" in row[-1] for row in plan), plan
