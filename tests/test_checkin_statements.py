"""The check-in callback's statements, counted: a new one on the hot path shows here."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

import pytest

from core.clock import local_day, utcnow
from models.base import db
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
