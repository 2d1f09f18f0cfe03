"""Housekeeping: the prune job drops dedupe rows, rate events, dead sessions and old logins
(the rest of what it prunes: tests/test_retention.py)."""

from __future__ import annotations

from datetime import timedelta

from core.clock import utcnow
from handlers import housekeeping
from models.api import ApiSession
from models.console import ConsoleLogin, ConsoleSession
from models.wechat import InboundMessage, RateEvent
from tests import factories as f


def _rows(now):
    old, fresh = now - timedelta(days=8), now - timedelta(days=6)
    for i, at in enumerate([old, old, fresh]):
        InboundMessage.create(dedupe_key=f"k{i}", openid="o", reply="", created_at=at)
    RateEvent.create(bucket="bind:o", at=now - timedelta(days=2))
    RateEvent.create(bucket="bind:o", at=now - timedelta(minutes=30))
    ApiSession.create(openid="o", issued_at=now, expires_at=now - timedelta(days=31))
    ApiSession.create(openid="o", issued_at=now, expires_at=now - timedelta(days=29))
    ApiSession.create(openid="o", issued_at=now, expires_at=now + timedelta(days=7))
    member = f.member("书记", f.branch(), roles="secretary")
    for i, expires in enumerate([now - timedelta(hours=25), now - timedelta(hours=23)]):
        ConsoleLogin.create(kind="link", token_hash=f"h{i}", member=member, expires_at=expires)
    for i, expires in enumerate([now - timedelta(days=31), now - timedelta(days=29)]):
        ConsoleSession.create(sid_hash=f"s{i}", member=member, expires_at=expires)


def test_prune_keeps_what_is_still_needed(conn, settings):
    now = utcnow()
    _rows(now)
    removed = housekeeping.prune(now, settings).counts
    assert {k: n for k, n in removed.items() if n} == {
        "inbound_message": 2,
        "rate_event": 1,
        "api_session": 1,
        "console_login": 1,
        "console_session": 1,
    }
    assert [r.dedupe_key for r in InboundMessage.select()] == ["k2"]
    assert RateEvent.select().count() == 1
    assert ApiSession.select().count() == 2
    assert ConsoleLogin.select().count() == 1 and ConsoleSession.select().count() == 1
    assert set(housekeeping.prune(now, settings).counts.values()) == {0}


def test_prune_works_in_chunks(conn, settings, monkeypatch):
    monkeypatch.setattr(housekeeping, "CHUNK", 3)
    now = utcnow()
    InboundMessage.insert_many(
        [
            {"dedupe_key": f"m{i}", "openid": "o", "created_at": now - timedelta(days=9)}
            for i in range(10)
        ]
    ).execute()
    assert housekeeping.prune(now, settings).counts["inbound_message"] == 10
    assert InboundMessage.select().count() == 0


def test_prune_runs_as_a_scheduler_job(app, conn):
    now = utcnow()
    _rows(now)
    ran = app.test_cli_runner().invoke(args=["jobs", "run", "prune"])
    assert ran.exit_code == 0, ran.output
    assert "deleted 2 inbound_message, 1 rate_event, 1 api_session, 1 console_login," in ran.output
    assert InboundMessage.select().count() == 1
