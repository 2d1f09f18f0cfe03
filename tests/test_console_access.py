"""Console logins without passwords: one-time links, QR scans, and sessions that end."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.binding import unbind
from handlers.console.access import (
    approve_qr_login,
    end_session,
    finish_qr_login,
    issue_login_link,
    log_out_everywhere,
    redeem_login_link,
    session_user,
    start_qr_login,
)
from handlers.errors import Forbidden, Invalid
from models.console import ConsoleLogin, ConsoleSession
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=SH)


@pytest.fixture
def people(conn):
    branch = f.branch("第一党支部")
    return {
        "sec": f.member("书记", branch, roles="secretary"),
        "collector": f.member("收缴员", branch, roles="dues_collector"),
        "admin": f.member("党委管理员", branch, roles="committee_admin"),
        "member": f.member("党员", branch),
    }


def test_a_link_logs_in_once_and_only_within_its_minutes(people, settings):
    link = issue_login_link(people["sec"], settings=settings, now=NOW)
    assert link.expires_at == NOW + timedelta(minutes=5)
    started = redeem_login_link(link.token, settings=settings, now=NOW + timedelta(minutes=4))
    assert started.member.id == people["sec"].id and len(started.sid) >= 40
    with pytest.raises(Invalid, match="已经用过或已失效"):
        redeem_login_link(link.token, settings=settings, now=NOW + timedelta(minutes=4))
    late = issue_login_link(people["sec"], settings=settings, now=NOW)
    with pytest.raises(Invalid, match="已过期（有效 5 分钟）"):
        redeem_login_link(late.token, settings=settings, now=NOW + timedelta(minutes=5))
    with pytest.raises(Invalid):
        redeem_login_link("not-a-token", settings=settings, now=NOW)


def test_only_secrets_hashes_are_stored(people, settings):
    link = issue_login_link(people["sec"], settings=settings, now=NOW)
    started = redeem_login_link(link.token, settings=settings, now=NOW)
    stored = [row.token_hash for row in ConsoleLogin.select()]
    assert link.token not in stored and len(stored[0]) == 64
    assert started.sid not in [row.sid_hash for row in ConsoleSession.select()]


def test_members_without_a_console_role_get_no_link(people, settings):
    with pytest.raises(Forbidden, match="控制台仅供"):
        issue_login_link(people["member"], settings=settings, now=NOW)
    assert issue_login_link(people["collector"], settings=settings, now=NOW).token
    assert issue_login_link(people["admin"], settings=settings, now=NOW).token


def test_a_qr_login_waits_for_a_managers_scan_then_logs_that_browser_in(people, settings):
    pending = start_qr_login(settings=settings, now=NOW)
    assert pending.scene.startswith("console_")
    assert finish_qr_login(pending.browser_key, settings=settings, now=NOW) is None
    with pytest.raises(Forbidden):
        approve_qr_login(people["member"], pending.scene, now=NOW)
    reply = approve_qr_login(people["sec"], pending.scene, now=NOW + timedelta(seconds=30))
    assert "已确认登录控制台" in reply
    again = approve_qr_login(people["admin"], pending.scene, now=NOW + timedelta(seconds=40))
    assert "已失效" in again  # the first approval stands
    started = finish_qr_login(
        pending.browser_key, settings=settings, now=NOW + timedelta(minutes=1)
    )
    assert started is not None and started.member.id == people["sec"].id
    with pytest.raises(Invalid):  # used once
        finish_qr_login(pending.browser_key, settings=settings, now=NOW + timedelta(minutes=1))


def test_an_unscanned_qr_login_expires(people, settings):
    pending = start_qr_login(settings=settings, now=NOW)
    later = NOW + timedelta(minutes=5)
    assert "已失效" in approve_qr_login(people["sec"], pending.scene, now=later)
    with pytest.raises(Invalid, match="二维码已过期"):
        finish_qr_login(pending.browser_key, settings=settings, now=later)


def _login(member, settings, at=NOW):
    link = issue_login_link(member, settings=settings, now=at)
    return redeem_login_link(link.token, settings=settings, now=at).sid


def test_a_session_ends_after_idling_and_at_its_absolute_limit(people, settings):
    sid = _login(people["sec"], settings)
    step = timedelta(minutes=29)
    moment = NOW
    for _ in range(25):  # active every 29 minutes: alive until the 12-hour limit
        moment += step
        found = session_user(sid, settings=settings, now=moment)
        if moment < NOW + timedelta(hours=12):
            assert found is not None and found.member.id == people["sec"].id
    assert session_user(sid, settings=settings, now=moment) is None
    assert ConsoleSession.get().end_reason == "expired"
    idle = _login(people["sec"], settings)
    assert session_user(idle, settings=settings, now=NOW + timedelta(minutes=30)) is None
    assert ConsoleSession.select().where(ConsoleSession.end_reason == "idle").count() == 1


def test_logout_unbinding_and_losing_the_role_end_sessions(people, settings):
    sid = _login(people["sec"], settings)
    end_session(sid, now=NOW)
    assert session_user(sid, settings=settings, now=NOW) is None
    one, two = _login(people["sec"], settings), _login(people["sec"], settings)
    f.bound(people["sec"], "openid-sec")
    result = unbind(people["sec"], NOW)
    assert result.sessions == 2
    assert session_user(one, settings=settings, now=NOW) is None
    assert session_user(two, settings=settings, now=NOW) is None
    collector = _login(people["collector"], settings)
    people["collector"].roles = ""
    people["collector"].save()
    assert session_user(collector, settings=settings, now=NOW) is None
    admin = _login(people["admin"], settings)
    assert log_out_everywhere(people["admin"], now=NOW) == 1
    assert session_user(admin, settings=settings, now=NOW) is None
