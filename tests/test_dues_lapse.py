"""The six-month rule: consecutive months unpaid and without attending, across a year boundary in
Asia/Shanghai, the 3/5/6 alerts, and a constant number of queries for all branches."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from handlers import dues as d
from models.base import db
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import Branch, Committee, Member
from tests import factories as f
from tests.support.apps import make_app
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
# Half past midnight on New Year's Day in Shanghai: still 2026-12-31 in UTC.
AT = datetime(2027, 1, 1, 0, 30, tzinfo=SH)
_scene = itertools.count(1)


def m(year: int, month: int) -> date:
    return date(year, month, 1)


def months(first: date, last: date) -> list[date]:
    return d.month_span(first, last)


def meeting(br: Branch, start: datetime, who: list[Member], minutes: int = 90) -> Meeting:
    mt = Meeting.create(
        branch=br,
        kind="theme_day",
        starts_at=start,
        ends_at=start + timedelta(minutes=minutes),
        qr_scene=f"mtg_lapse_{next(_scene)}",
    )
    MeetingAttendee.insert_many([{"meeting": mt.id, "member": p.id} for p in who]).execute()
    return mt


def present(mt: Meeting, p: Member) -> None:
    Attendance.create(meeting=mt, member=p, status="present", method="code")


def leave(mt: Meeting, p: Member, decision: str) -> None:
    Attendance.create(
        meeting=mt, member=p, status="leave", leave_reason="出差", leave_status=decision
    )


@pytest.fixture
def world(conn: None) -> dict[str, Any]:
    """One branch through 2026: dues paid to various months, a theme day every month but Sep."""
    br = f.branch("第一党支部")
    names = ["a", "b", "c", "e", "g", "h", "prob", "f", "dd", "pend"]
    p = {n: f.member(n, br, **({"status": "probationary"} if n == "prob" else {})) for n in names}
    p["prob"].joined_on = date(2026, 10, 20)
    p["prob"].save()
    f.member("积极分子", br, status="activist")  # no duties: never counted
    for n in names:
        f.assess(p[n], base_fen=800000, from_month=m(2026, 1))
    f.assess(p["e"], base_fen=800000, from_month=m(2025, 6))  # owes since mid-2025
    # Dues: paid through ...
    for n, last in (("a", 9), ("b", 7), ("c", 6), ("g", 9), ("h", 9)):
        f.pay(p[n], *months(m(2026, 1), m(2026, last)), amount_fen=12000)
    for n in ("f", "dd", "pend"):
        f.pay(p[n], *months(m(2026, 1), m(2026, 12)), amount_fen=12000)
    f.pay(p["g"], m(2027, 1), amount_fen=12000)  # this month paid: the run is over
    d.set_relief(
        None,
        p["h"],
        "exempt",
        months(m(2026, 10), m(2026, 12)),
        approved_by="机关党委",
        now=AT,
        settings=_settings(),
    )
    # Meetings: the 15th of each month at 15:00, except September (none held).
    everyone = [p[n] for n in names]
    held = {}
    for month in range(1, 13):
        if month != 9:
            held[month] = meeting(br, datetime(2026, month, 15, 15, tzinfo=SH), everyone)
    for month, mt in held.items():
        if month <= 7:
            present(mt, p["a"])
        if month <= 10:
            present(mt, p["b"])
        if month <= 6:
            present(mt, p["c"])
        if month <= 11:
            present(mt, p["pend"])
            present(mt, p["e"])
        for n in ("g", "h", "prob"):
            present(mt, p[n])
    leave(held[11], p["b"], "approved")
    leave(held[12], p["pend"], "pending")  # not approved: no reason yet
    # f attended only a meeting at 00:10 on 1 December in Shanghai (30 November in UTC).
    early = meeting(br, datetime(2026, 12, 1, 0, 10, tzinfo=SH), [p["f"]], minutes=10)
    present(early, p["f"])
    # A meeting that has not ended yet counts for nothing.
    later = meeting(br, datetime(2027, 1, 1, 0, 20, tzinfo=SH), [p["dd"]], minutes=60)
    present(later, p["dd"])
    return {"branch": br, "p": p}


def _settings() -> dict:
    from core.config import defaults

    return defaults()


def counts(world: dict, settings: dict, at: datetime = AT) -> dict[str, tuple]:
    ids = {p.id: n for n, p in world["p"].items()}
    return {
        ids[c.member_id]: (c.dues_months, c.dues_since, c.meeting_months, c.meeting_since)
        for c in d.lapse_counts(at, settings)
    }


def test_consecutive_months_across_the_new_year_in_shanghai(world, settings):
    got = counts(world, settings)
    assert got["a"][:2] == (3, m(2026, 10))  # Oct-Dec unpaid (UTC would say Oct-Nov: 2)
    assert got["b"][:2] == (5, m(2026, 8))
    assert got["c"][:2] == (6, m(2026, 7))
    assert got["e"][:2] == (12, m(2026, 1))  # reaches the 12-month lookback
    assert got["g"][:2] == (0, None)  # January paid: the run ended
    assert got["h"][:2] == (0, None)  # exempt Oct-Dec: an approved reason
    assert got["prob"][:2] == (3, m(2026, 10))  # owes from October, when accepted
    assert got["f"][:2] == (0, None)

    assert got["a"][2:] == (4, m(2026, 8))  # Aug, Oct, Nov, Dec; no meeting in Sep: skipped
    assert got["b"][2:] == (1, m(2026, 12))  # approved leave in November ends the run
    assert got["c"][2:] == (5, m(2026, 7))
    assert got["pend"][2:] == (1, m(2026, 12))  # pending leave is no reason
    assert got["f"][2:] == (0, None)  # attended on 1 Dec local time (30 Nov in UTC)
    assert got["dd"][2:] == (11, m(2026, 1))  # never attended; the unfinished one not counted
    assert got["g"][2:] == (0, None)
    assert "积极分子" not in got


def test_alerts_name_the_member_the_reason_and_the_level(world, settings):
    alerts = d.lapse_alerts(AT, settings)
    got = {(a.member_name, a.reason): (a.months, a.level, a.at_least) for a in alerts}
    assert got == {
        ("a", "dues"): (3, 3, False),
        ("b", "dues"): (5, 5, False),
        ("c", "dues"): (6, 6, False),
        ("e", "dues"): (12, 6, True),
        ("prob", "dues"): (3, 3, False),
        ("a", "meetings"): (4, 3, False),
        ("c", "meetings"): (5, 5, False),
        ("dd", "meetings"): (11, 6, True),
    }
    labels = {a.reason: a.reason_label for a in alerts}
    assert labels == {"dues": "未交纳党费", "meetings": "未参加组织生活"}
    assert all(a.branch_name == "第一党支部" for a in alerts)


def test_a_day_earlier_the_counts_are_a_month_shorter(world, settings):
    got = counts(world, settings, AT - timedelta(days=1))  # 31 December: December not over
    assert got["a"][:2] == (2, m(2026, 10))
    assert got["c"][:2] == (5, m(2026, 7))
    assert got["c"][2:] == (4, m(2026, 7))
    assert got["f"][2:] == (0, None)  # attended this month


def test_the_thresholds_are_configuration(db_url):
    app = make_app(
        db_url, dues={"alert_first_months": 2, "alert_second_months": 4, "lapse_months": 5}
    )
    settings = app.config["ZHIBU"]
    with app.app_context(), db.connection_context():
        p = f.member("张三")
        f.assess(p, base_fen=800000, from_month=m(2026, 8))
        levels = [(a.months, a.level) for a in d.lapse_alerts(AT, settings)]
        assert levels == [(5, 5)]  # Aug-Dec
        f.pay(p, m(2026, 8), amount_fen=12000)
        assert [(a.months, a.level) for a in d.lapse_alerts(AT, settings)] == [(4, 4)]


# ---- all branches at once -------------------------------------------------------------------


def _branches(comm: Committee, start: int, stop: int) -> set[tuple[str, str, int]]:
    """Each branch: one member 4 months unpaid, one 6 months without meetings, one fine."""
    expected = set()
    with db.atomic():
        for i in range(start, stop):
            br = f.branch(f"支部{i:03d}", comm)
            late, absent, fine = (f.member(f"{k}{i}", br) for k in ("欠", "缺", "好"))
            for p in (late, absent, fine):
                f.assess(p, base_fen=300000 + i, from_month=m(2026, 1))
            f.pay(late, *months(m(2026, 1), m(2026, 8)), amount_fen=1500)
            for p in (absent, fine):
                f.pay(p, *months(m(2026, 1), m(2026, 12)), amount_fen=1500)
            for month in range(1, 13):
                mt = meeting(br, datetime(2026, month, 10, 9, tzinfo=SH), [late, absent, fine])
                present(mt, fine)
                present(mt, late)
                if month <= 6:
                    present(mt, absent)
            expected |= {(late.name, "dues", 4), (absent.name, "meetings", 6)}
    return expected


def test_lapse_alerts_run_a_constant_number_of_queries(conn, settings, monkeypatch):
    comm = f.committee("第一党委")
    expected = _branches(comm, 0, 3)
    with counting_queries(monkeypatch) as seen:
        alerts = d.lapse_alerts(AT, settings)
    few = len(seen)
    assert {(a.member_name, a.reason, a.months) for a in alerts} == expected

    expected |= _branches(comm, 3, 30)
    assert Branch.select().count() == 30
    with counting_queries(monkeypatch) as seen:
        alerts = d.lapse_alerts(AT, settings)
    assert len(seen) == few == 5
    assert {(a.member_name, a.reason, a.months) for a in alerts} == expected

    other = f.committee("第二党委")
    lonely = f.member("孤", f.branch("其他党委支部", other))
    f.assess(lonely, base_fen=300000, from_month=m(2026, 9))
    with counting_queries(monkeypatch) as seen:
        only = d.lapse_alerts(AT, settings, committee_id=other.id)
    assert len(seen) == 5
    assert [(a.member_name, a.reason, a.months) for a in only] == [("孤", "dues", 4)]
    with counting_queries(monkeypatch) as seen:
        one = d.member_lapse(lonely, AT, settings)
    assert len(seen) == 5 and (one.dues_months, one.meeting_months) == (4, 0)
