"""The check-in callback's statements, counted: a new one on the hot path shows here."""

from __future__ import annotations

import logging

import pytest

from models.base import db
from tests import factories as f

# The member with the message's stored reply (none yet), today's topic, the check-in
# (INSERT ... RETURNING), the nudge cancelled, the week's days, the activity note and the
# dedupe row.
DATA_STATEMENTS = 7


@pytest.fixture
def openid(app):
    with app.app_context(), db.connection_context():
        member = f.member("张三", f.branch())
        return f.bound(member, "openid-statements")


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The statements peewee logged: data statements and savepoints (not BEGIN or COMMIT)."""
    return [r.msg[0] for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]


def test_a_check_in_takes_seven_data_statements_and_no_savepoint(wechat, openid, caplog):
    caplog.set_level(logging.DEBUG, logger="peewee")
    reply = wechat.send_text(openid, "学习 数一数").reply
    assert reply is not None and "学习打卡成功" in reply
    done = logged(caplog)
    data = [s for s in done if s.split(" ", 1)[0] in ("SELECT", "INSERT", "UPDATE", "DELETE")]
    assert len(data) == DATA_STATEMENTS, data
    assert done == data, [s for s in done if s not in data]  # no SAVEPOINT, no RELEASE
