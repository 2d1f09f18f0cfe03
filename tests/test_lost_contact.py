"""Lost contact (失联): every kind of interaction DOMAIN.md names keeps a member in touch.

Check-ins and messages set ``last_active_at`` (tests/test_bot_commands.py); being marked
present at a meeting and having dues booked must count too, even when the member never wrote.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers import dues, meetings, reminders
from tests import factories as f
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 8, 30, tzinfo=SH)
LONG_AGO = NOW - timedelta(days=400)
STALE = NOW - timedelta(days=120)  # their own last message: outside the 90-day span
NOV = date(2026, 11, 1)
MONTHLY_FEN = 1500  # 3,000.00 yuan in service: 0.5 %


@pytest.fixture
def branch(conn):
    return f.branch("第一党支部")


@pytest.fixture
def sec(branch):
    roles = "dues_collector,secretary"
    return f.member("书记甲", branch, roles=roles, created_at=LONG_AGO, last_active_at=NOW)


def quiet(br, name: str):
    """A party member for a long time whose own last message is four months old."""
    member = f.member(name, br, created_at=LONG_AGO, last_active_at=STALE)
    f.assess(member, base_fen=300000, from_month=NOV)
    return member


def held_meeting(secretary, start: datetime, settings) -> int:
    """A 主题党日 scheduled a week ahead of `start`; returns its id."""
    meeting = meetings.create_meeting(
        secretary,
        kind="theme_day",
        start=start,
        end=start + timedelta(hours=2),
        now=start - timedelta(days=7),
        settings=settings,
    )
    return meeting.id


def lost_names(settings) -> set[str]:
    found = reminders.lost_contact(NOW, settings)
    return {m.name for people in found.values() for m in people}


def test_presence_and_booked_dues_count_as_contact(branch, sec, settings):
    people = {
        name: quiet(branch, name)
        for name in ("补签甲", "签到乙", "交费丙", "更正丁", "旧会戊", "从未己")
    }
    recent = held_meeting(sec, NOW - timedelta(days=20), settings)
    old = held_meeting(sec, NOW - timedelta(days=100), settings)
    start = NOW - timedelta(days=20)
    # 补签 by the secretary, after the meeting: the member sent nothing.
    meetings.mark_present(sec, "补签甲", recent, now=start + timedelta(hours=3), settings=settings)
    opened = meetings.open_signin(sec, recent, now=start, settings=settings)
    meetings.sign_in_by_code(people["签到乙"], opened.signin_code, now=start, settings=settings)
    meetings.mark_present(
        sec, "旧会戊", old, now=NOW - timedelta(days=100) + timedelta(hours=1), settings=settings
    )
    # Dues booked by the collector; one booking reversed as a mistake.
    booked = NOW - timedelta(days=5)
    dues.record_payment(sec, people["交费丙"], MONTHLY_FEN, [NOV], now=booked, settings=settings)
    wrong = dues.record_payment(
        sec, people["更正丁"], MONTHLY_FEN, [NOV], now=booked, settings=settings
    )
    dues.reverse_payment(sec, wrong.payment.id, "记错人了", now=booked + timedelta(hours=1))

    assert lost_names(settings) == {"更正丁", "旧会戊", "从未己"}
    alerts = reminders.secretary_alerts(NOW, settings, branch_id=branch.id)
    assert {name for _, name in alerts[branch.id].lost_contact} == {"更正丁", "旧会戊", "从未己"}
    (digest,) = [r for r in reminders.secretary_digests(NOW, settings) if r.target_id == sec.id]
    line = next(x for x in digest.payload["text"].splitlines() if "失联" in x)
    assert "更正丁" in line and "旧会戊" in line and "从未己" in line
    for name in ("补签甲", "签到乙", "交费丙"):
        assert name not in line
    # The span is a setting: with 10 days, the meeting 20 days ago no longer counts.
    alerts = settings.alerts.model_copy(update={"lost_contact_days": 10})
    short = settings.model_copy(update={"alerts": alerts})
    names = {m.name for ms in reminders.lost_contact(NOW, short).values() for m in ms}
    assert {"补签甲", "签到乙"} <= names and "交费丙" not in names


def test_the_digest_reads_lost_contact_in_a_constant_number_of_queries(
    branch, sec, settings, monkeypatch
):

    def grow(n: int) -> int:
        start = NOW - timedelta(days=10 + n)
        people = [quiet(branch, f"党员{n}-{i}") for i in range(n)]
        mid = held_meeting(sec, start, settings)
        for member in people[::2]:
            meetings.mark_present(
                sec, member.name, mid, now=start + timedelta(hours=1), settings=settings
            )
        with counting_queries(monkeypatch) as seen:
            reminders.secretary_alerts(NOW, settings, branch_id=branch.id)
        return len(seen)

    assert grow(2) == grow(20)
