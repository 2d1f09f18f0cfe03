"""The check-in callback's statements, counted: a new one on the hot path shows here."""

from __future__ import annotations

import logging

import pytest

from models.base import db
from tests import factories as f

# The dedupe reply look-up, the member, today's topic, the check-in (INSERT ... RETURNING),
# the nudge cancelled, the week's days, the activity note and the dedupe row.
DATA_STATEMENTS = 8


@pytest.fixture
def openid(app):
    with app.app_context(), db.connection_context():
        member = f.member("张三", f.branch())
        return f.bound(member, "openid-statements")


def statements(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The data statements peewee logged (transaction control left out)."""
    sqls = [r.msg[0] for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]
    return [s for s in sqls if s.split(" ", 1)[0] in ("SELECT", "INSERT", "UPDATE", "DELETE")]


def test_a_check_in_takes_eight_data_statements(wechat, openid, caplog):
    caplog.set_level(logging.DEBUG, logger="peewee")
    reply = wechat.send_text(openid, "学习 数一数").reply
    assert reply is not None and "学习打卡成功" in reply
    done = statements(caplog)
    assert len(done) == DATA_STATEMENTS, done
