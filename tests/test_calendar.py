"""Compliance calendar: periods, held/planned counting, overdue and due-soon, the text."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.clock import UTC
from handlers.calendar import (
    Period,
    Requirement,
    all_branches_calendar,
    all_branches_due,
    branch_calendar,
    period_of,
    render_calendar,
)
from handlers.errors import DomainError
from handlers.meetings import attendance_report
from models.base import db
from models.meetings import Attendance
from models.org import Branch, Committee
from tests import factories as f
from tests.support.apps import make_app
from tests.support.meetings import meet
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return an aware moment in Shanghai time."""
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def old_branch(name: str, comm: Committee | None = None, since: datetime = LONG_AGO) -> Branch:
    """Create a branch that has been in the system since `since` (judged for earlier periods)."""
    br = f.branch(name, comm)
    br.created_at = since
    br.save()
    return br


def pick(reqs: list[Requirement], kind: str, group_id: int | None = None) -> Requirement:
    found = [r for r in reqs if r.kind == kind and r.group_id == group_id and r.days_left >= 0]
    assert len(found) == 1, (kind, group_id, reqs)
    return found[0]


@contextmanager
def running(db_url: str, **overrides: Any) -> Iterator[dict[str, dict[str, Any]]]:
    """An app with setting overrides, an app context and an open connection; yield settings."""
    app = make_app(db_url, **overrides)
    with app.app_context(), db.connection_context():
        yield app.config["ZHIBU"]


# ---- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "frequency", "start", "end", "label"),
    [
        (date(2026, 11, 15), "month", date(2026, 11, 1), date(2026, 11, 30), "2026年11月"),
        (date(2026, 11, 1), "month", date(2026, 11, 1), date(2026, 11, 30), "2026年11月"),
        (date(2026, 12, 31), "month", date(2026, 12, 1), date(2026, 12, 31), "2026年12月"),
        (date(2028, 2, 29), "month", date(2028, 2, 1), date(2028, 2, 29), "2028年2月"),
        (date(2026, 2, 1), "month", date(2026, 2, 1), date(2026, 2, 28), "2026年2月"),
        (date(2026, 1, 1), "quarter", date(2026, 1, 1), date(2026, 3, 31), "2026年第1季度"),
        (date(2026, 3, 31), "quarter", date(2026, 1, 1), date(2026, 3, 31), "2026年第1季度"),
        (date(2026, 4, 1), "quarter", date(2026, 4, 1), date(2026, 6, 30), "2026年第2季度"),
        (date(2026, 9, 30), "quarter", date(2026, 7, 1), date(2026, 9, 30), "2026年第3季度"),
        (date(2026, 12, 31), "quarter", date(2026, 10, 1), date(2026, 12, 31), "2026年第4季度"),
        (date(2026, 1, 1), "year", date(2026, 1, 1), date(2026, 12, 31), "2026年"),
        (date(2026, 12, 31), "year", date(2026, 1, 1), date(2026, 12, 31), "2026年"),
    ],
)
def test_period_of_edges(day: date, frequency: str, start: date, end: date, label: str) -> None:
    assert period_of(day, frequency) == Period(frequency, start, end, label)


def test_previous_period_crosses_the_year() -> None:
    assert period_of(date(2027, 1, 1), "month").previous().label == "2026年12月"
    assert period_of(date(2027, 2, 14), "quarter").previous() == Period(
        "quarter", date(2026, 10, 1), date(2026, 12, 31), "2026年第4季度"
    )
    assert period_of(date(2027, 6, 1), "year").previous().start == date(2026, 1, 1)


def test_period_of_refuses_none() -> None:
    with pytest.raises(ValueError, match="frequency"):
        period_of(date(2026, 1, 1), "none")


# ---- boundaries in the branch time zone ----------------------------------------------------

BOUNDARIES = [
    # before, after (one hour apart across local midnight), the moment asked, and the expected
    # (held, previous_missed) for the "before" and "after" branch, per kind.
    pytest.param(
        sh(2026, 3, 31, 23, 30),
        sh(2026, 4, 1, 0, 30),
        sh(2026, 4, 15, 12),
        {
            "committee": ((0, False), (1, True)),
            "general": ((0, False), (1, True)),
            "life_meeting": ((1, True), (1, True)),
        },
        id="month-and-quarter",
    ),
    pytest.param(
        sh(2026, 4, 30, 23, 30),
        sh(2026, 5, 1, 0, 30),
        sh(2026, 5, 15, 12),
        {
            "committee": ((0, False), (1, True)),
            "general": ((1, True), (1, True)),
            "life_meeting": ((1, True), (1, True)),
        },
        id="month-only",
    ),
    pytest.param(
        sh(2026, 12, 31, 23, 30),
        sh(2027, 1, 1, 0, 30),
        sh(2027, 1, 10, 12),
        {
            "committee": ((0, False), (1, True)),
            "general": ((0, False), (1, True)),
            "life_meeting": ((0, False), (1, True)),
        },
        id="year",
    ),
]


@pytest.mark.parametrize(("before", "after", "at", "expected"), BOUNDARIES)
def test_meetings_belong_to_the_local_period(
    conn: None,
    settings: dict[str, dict[str, Any]],
    before: datetime,
    after: datetime,
    at: datetime,
    expected: dict[str, tuple[tuple[int, bool], tuple[int, bool]]],
) -> None:
    assert before.astimezone(UTC).hour == 15 and after.astimezone(UTC).hour == 16
    assert before.astimezone(UTC).date() == after.astimezone(UTC).date()  # same UTC day
    early, late = old_branch("前一天支部"), old_branch("后一天支部")
    for kind in expected:
        meet(early, kind, before)
        meet(late, kind, after)
    early_reqs = branch_calendar(early.id, at, settings)
    late_reqs = branch_calendar(late.id, at, settings)
    for kind, (want_early, want_late) in expected.items():
        got_early = pick(early_reqs, kind)
        got_late = pick(late_reqs, kind)
        assert (got_early.held, got_early.previous_missed) == want_early, kind
        assert (got_late.held, got_late.previous_missed) == want_late, kind


def test_the_time_zone_comes_from_the_settings(db_url: str) -> None:
    with running(db_url, app={"timezone": "UTC"}) as settings:
        br = old_branch("协调世界时支部")
        meet(br, "committee", sh(2026, 4, 1, 0, 30))  # 2026-03-31 16:30 UTC: March in UTC
        req = pick(branch_calendar(br.id, sh(2026, 4, 15, 12), settings), "committee")
        assert (req.held, req.previous_missed) == (0, False)


# ---- held, planned, cancelled ---------------------------------------------------------------


def test_held_planned_and_cancelled(conn: None, settings: dict[str, dict[str, Any]]) -> None:
    at = sh(2026, 11, 20, 10)
    br, other = old_branch("第一党支部"), old_branch("第二党支部")
    meet(br, "committee", sh(2026, 11, 5, 15))  # ended: held
    meet(br, "committee", sh(2026, 11, 6, 15), status="cancelled")  # never counts
    meet(br, "committee", sh(2026, 11, 20, 8), minutes=120)  # ends exactly at `at`: held
    meet(br, "committee", sh(2026, 11, 20, 9, 30))  # in progress: planned
    meet(br, "committee", sh(2026, 11, 25, 15))  # later this month: planned
    meet(br, "committee", sh(2026, 10, 9, 15))  # October: not this period
    meet(br, "theme_day", sh(2026, 10, 9, 15))
    meet(br, "theme_day", sh(2026, 11, 25, 15))
    meet(other, "theme_day", sh(2026, 11, 5, 15))  # another branch's meeting
    meet(br, "lesson", sh(2026, 8, 1, 15))  # Q3, so Q4's lesson is not overdue
    meet(br, "lesson", sh(2026, 10, 10, 15), status="cancelled")
    meet(br, "other", sh(2026, 11, 3, 15))
    reqs = branch_calendar(br.id, at, settings)

    committee = pick(reqs, "committee")
    assert (committee.held, committee.planned, committee.satisfied) == (2, 2, True)
    assert committee.status == "ok" and not committee.previous_missed
    assert committee.next_planned == sh(2026, 11, 20, 9, 30)

    theme = pick(reqs, "theme_day")
    assert (theme.held, theme.planned, theme.satisfied) == (0, 1, False)
    assert theme.status == "planned" and theme.days_left == 10
    assert theme.next_planned == sh(2026, 11, 25, 15)

    lesson = pick(reqs, "lesson")
    assert (lesson.held, lesson.planned, lesson.status) == (0, 0, "open")
    assert lesson.period.label == "2026年第4季度" and lesson.days_left == 41
    assert {r.kind for r in reqs} == {
        "general",
        "committee",
        "lesson",
        "theme_day",
        "life_meeting",
        "appraisal",
    }  # no groups, so no 党小组会; "other" is never required
    assert all(r.branch_id == br.id and r.branch_name == "第一党支部" for r in reqs)


# ---- quorum ---------------------------------------------------------------------------------


def test_a_general_or_committee_meeting_without_quorum_is_not_held(
    conn: None, settings: dict[str, dict[str, Any]]
) -> None:
    """More than half of the voters present, by the rule of the 会议 情况 report."""
    at = sh(2026, 11, 20, 10)
    br, ok = old_branch("第一党支部"), old_branch("第二党支部")
    full = [f.member(f"正式{i}", br) for i in range(4)]
    probationary = f.member("预备甲", br, status="probationary")
    # 2 of 4 voters: not more than half, though 3 of 5 people came (预备党员 do not vote).
    short = meet(
        br, "general", sh(2026, 11, 5, 15), present=[*full[:2], probationary], absent=full[2:]
    )
    nobody = meet(br, "general", sh(2026, 10, 5, 15), present=[], absent=full)
    theirs = [f.member(f"党员{i}", ok) for i in range(4)]
    met = meet(ok, "general", sh(2026, 11, 5, 15), present=theirs[:3], absent=theirs[3:])
    unlisted = meet(br, "committee", sh(2026, 10, 9, 15), present=[], absent=[])
    one_of_three = meet(br, "committee", sh(2026, 11, 9, 15), present=full[:1], absent=full[1:3])
    running_late = meet(br, "committee", sh(2026, 11, 20, 9, 30), present=[], absent=full[:3])

    general = pick(branch_calendar(br.id, at, settings), "general")
    assert (general.held, general.held_without_quorum, general.satisfied) == (0, 2, False)
    assert general.status == "overdue"  # Q3 had none (nothing since 2020)
    assert pick(branch_calendar(ok.id, at, settings), "general").satisfied
    committee = pick(branch_calendar(br.id, at, settings), "committee")
    assert (committee.held, committee.held_without_quorum, committee.planned) == (0, 1, 1)
    assert committee.previous_missed and committee.previous_without_quorum == 1
    assert committee.status == "overdue"
    # The same verdict as the attendance report of each ended meeting.
    for meeting, met_quorum in ((short, False), (nobody, False), (met, True), (unlisted, False)):
        report = attendance_report(meeting, now=at)
        assert report.quorum_met is met_quorum, meeting.id
    assert attendance_report(one_of_three, now=at).quorum_met is False
    # In progress: planned, not judged yet; recorded attendance counts once it ends.
    assert attendance_report(running_late, now=at).quorum_needed == 2
    for member in full[:2]:
        Attendance.create(meeting=running_late, member=member, status="present", method="manual")
    later = pick(branch_calendar(br.id, sh(2026, 11, 21, 9), settings), "committee")
    assert (later.held, later.held_without_quorum, later.status) == (1, 1, "ok")


def test_quorum_tallies_are_part_of_the_one_calendar_query(
    conn: None, settings: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = sh(2026, 11, 20, 10)
    comm = f.committee("第一党委")

    quorate: dict[int, bool] = {}

    def grow(start: int, stop: int) -> int:
        for n in range(start, stop):
            br = old_branch(f"支部{n}", comm)
            voters = [f.member(f"支委{n}-{i}", br) for i in range(3)]
            came = n % 4  # 0 to 3 of the 3 voters; 2 and 3 are a quorum
            meet(
                br,
                "committee",
                sh(2026, 11, 3, 9),
                present=voters[:came],
                absent=voters[came:],
            )
            quorate[br.id] = came >= 2
        with counting_queries(monkeypatch) as seen:
            reqs = all_branches_calendar(at, settings, committee_id=comm.id)
        committee = {r.branch_id: r for r in reqs if r.kind == "committee"}
        assert {b: r.satisfied for b, r in committee.items()} == quorate
        assert all(r.held_without_quorum == (not quorate[b]) for b, r in committee.items())
        return len(seen)

    assert grow(0, 4) == grow(4, 30)


def test_render_held_without_quorum(conn: None, settings: dict[str, dict[str, Any]]) -> None:
    br = old_branch("第一党支部")
    voters = [f.member(f"支委{i}", br) for i in range(3)]
    meet(br, "committee", sh(2026, 10, 9, 15), present=voters[:1], absent=voters[1:])
    meet(br, "committee", sh(2026, 11, 5, 15), present=voters[:1], absent=voters[1:])
    meet(br, "committee", sh(2026, 12, 3, 15), present=voters[:2], absent=voters[2:])
    meet(br, "general", sh(2026, 9, 9, 15))
    meet(br, "general", sh(2026, 11, 9, 15), present=[], absent=voters)
    at = sh(2026, 11, 20, 10)
    lines = render_calendar(br.name, branch_calendar(br.id, at, settings), "month", SH)
    lines = lines.splitlines()
    head = "❗ 支部委员会会议：已召开 0 次，另有 1 次召开但未达法定人数（不计入），还剩 10 天"
    assert head + "，尚未安排" in lines
    hint = lines[lines.index(head + "，尚未安排") + 1]
    assert "须有过半支委出席，会议才算召开" in hint and "补签 姓名 编号" in hint
    assert "    上期未开：2026年10月的支部委员会会议未达法定人数" in lines
    general = "⬜ 支部党员大会：已召开 0 次，另有 1 次召开但未达法定人数（不计入），还剩 41 天"
    assert general + "，尚未安排" in lines
    assert "有表决权的正式党员" in lines[lines.index(general + "，尚未安排") + 1]
    assert "本期要求的会议均已召开" not in lines[-1]
    quarter = branch_calendar(br.id, sh(2026, 12, 10, 10), settings, scope="quarter")
    lines = render_calendar(br.name, quarter, "quarter", SH).splitlines()
    assert "支部委员会会议：10月 ✗未达法定人数 · 11月 ✗未达法定人数 · 12月 ✓1次" in lines


def test_unknown_branch_is_refused(conn: None, settings: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(DomainError, match="支部"):
        branch_calendar(4242, sh(2026, 11, 20), settings)


# ---- days left, overdue, due soon -----------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "month_left", "quarter_left", "year_left"),
    [
        (sh(2026, 11, 1, 0, 0), 29, 60, 60),
        (sh(2026, 11, 30, 23, 59), 0, 31, 31),
        (sh(2026, 10, 1, 0, 0), 30, 91, 91),
        (sh(2026, 12, 31, 23, 59), 0, 0, 0),
        (sh(2026, 1, 1, 0, 0), 30, 89, 364),
        (datetime(2026, 11, 30, 16, 30, tzinfo=UTC), 30, 30, 30),  # Dec 1 00:30 in Shanghai
    ],
)
def test_days_left_on_first_and_last_days(
    conn: None,
    settings: dict[str, dict[str, Any]],
    at: datetime,
    month_left: int,
    quarter_left: int,
    year_left: int,
) -> None:
    br = old_branch("第一党支部")
    reqs = branch_calendar(br.id, at, settings)
    assert pick(reqs, "committee").days_left == month_left
    assert pick(reqs, "general").days_left == quarter_left
    assert pick(reqs, "life_meeting").days_left == year_left


def test_previous_period_missed_is_overdue(
    conn: None, settings: dict[str, dict[str, Any]]
) -> None:
    at = sh(2026, 11, 20, 10)
    missed = old_branch("未开支部")
    held = old_branch("已开支部")
    meet(held, "committee", sh(2026, 10, 9, 15))
    cancelled = old_branch("取消支部")
    meet(cancelled, "committee", sh(2026, 10, 9, 15), status="cancelled")
    planned = old_branch("已安排支部")
    meet(planned, "committee", sh(2026, 11, 28, 15))
    made_up = old_branch("已补开支部")
    meet(made_up, "committee", sh(2026, 11, 3, 15))
    newcomer = old_branch("新建支部", since=sh(2026, 10, 15, 9))
    on_time = old_branch("月初建立支部", since=sh(2026, 10, 1, 0, 0))

    def committee(br: Branch) -> Requirement:
        return pick(branch_calendar(br.id, at, settings), "committee")

    assert (committee(missed).previous_missed, committee(missed).status) == (True, "overdue")
    assert (committee(held).previous_missed, committee(held).status) == (False, "open")
    assert committee(cancelled).status == "overdue"
    assert (committee(planned).planned, committee(planned).status) == (1, "overdue")
    assert (committee(made_up).previous_missed, committee(made_up).status) == (True, "ok")
    # Not in the system for the whole of October: October is not judged.
    assert (committee(newcomer).previous_missed, committee(newcomer).status) == (False, "open")
    assert committee(on_time).previous_missed is True


@pytest.mark.parametrize(
    ("at", "status"),
    [
        (sh(2026, 11, 23, 9), "due_soon"),  # 7 days left: exactly due_soon_days
        (sh(2026, 11, 22, 23, 59), "open"),  # 8 days left
        (sh(2026, 11, 30, 12), "due_soon"),  # last day
    ],
)
def test_due_soon_threshold(
    conn: None, settings: dict[str, dict[str, Any]], at: datetime, status: str
) -> None:
    assert settings.meetings.due_soon_days == 7
    br = old_branch("第一党支部")
    meet(br, "committee", sh(2026, 10, 9, 15))
    req = pick(branch_calendar(br.id, at, settings), "committee")
    assert req.status == status
    due = [(r.branch_id, r.kind) for r in all_branches_due(at, settings)]
    assert ((br.id, "committee") in due) is (status == "due_soon")


def test_due_soon_days_setting_is_used(db_url: str) -> None:
    with running(db_url, meetings={"due_soon_days": 3}) as settings:
        br = old_branch("第一党支部")
        meet(br, "committee", sh(2026, 10, 9, 15))
        meet(br, "theme_day", sh(2026, 10, 9, 15))
        meet(br, "theme_day", sh(2026, 11, 29, 15))  # planned but not yet held: still due
        earlier = branch_calendar(br.id, sh(2026, 11, 26, 9), settings)
        assert pick(earlier, "committee").status == "open"  # 4 days left
        at = sh(2026, 11, 27, 9)
        reqs = branch_calendar(br.id, at, settings)
        assert pick(reqs, "committee").status == "due_soon"
        assert pick(reqs, "theme_day").status == "due_soon"


# ---- configuration --------------------------------------------------------------------------


def test_frequency_overrides(db_url: str) -> None:
    overrides = {"frequency_lesson": "month", "frequency_general": "none"}
    with running(db_url, meetings=overrides) as settings:
        br = old_branch("第一党支部")
        meet(br, "lesson", sh(2026, 10, 9, 15))
        meet(br, "general", sh(2026, 11, 9, 15))
        reqs = branch_calendar(br.id, sh(2026, 11, 20, 10), settings)
        lesson = pick(reqs, "lesson")
        assert lesson.period == period_of(date(2026, 11, 20), "month")
        assert (lesson.held, lesson.days_left, lesson.previous_missed) == (0, 10, False)
        assert "general" not in {r.kind for r in reqs}


def test_all_kinds_none_requires_nothing(db_url: str) -> None:
    kinds = ("general", "committee", "group", "lesson", "theme_day", "life_meeting", "appraisal")
    with running(db_url, meetings={f"frequency_{k}": "none" for k in kinds}) as settings:
        br = old_branch("第一党支部")
        f.group(br)
        at = sh(2026, 11, 20, 10)
        assert branch_calendar(br.id, at, settings) == []
        assert all_branches_due(at, settings) == []
        assert "没有按期必须召开的会议" in render_calendar(br.name, [], "month", SH)


def test_group_meetings_are_required_per_party_group(
    conn: None, settings: dict[str, dict[str, Any]]
) -> None:
    at = sh(2026, 11, 20, 10)
    br = old_branch("第一党支部")
    g1, g2 = f.group(br, "第一党小组"), f.group(br, "第二党小组")
    meet(br, "group", sh(2026, 11, 3, 15), group=g1)
    meet(br, "group", sh(2026, 10, 3, 15), group=g1)
    meet(br, "group", sh(2026, 11, 4, 15))  # names no group: counts for none
    meet(br, "committee", sh(2026, 11, 5, 15), group=g2)  # other kinds count for the branch
    reqs = branch_calendar(br.id, at, settings)
    first, second = pick(reqs, "group", g1.id), pick(reqs, "group", g2.id)
    assert (first.held, first.satisfied, first.group_name) == (1, True, "第一党小组")
    assert (second.held, second.satisfied, second.previous_missed) == (0, False, True)
    assert second.status == "overdue" and second.kind_label == "党小组会"
    assert len([r for r in reqs if r.kind == "group"]) == 2
    assert pick(reqs, "committee").held == 1

    lone = old_branch("无小组支部")
    assert "group" not in {r.kind for r in branch_calendar(lone.id, at, settings)}


# ---- all branches at once -------------------------------------------------------------------


def _add_branches(comm: Committee, start: int, stop: int) -> set[tuple[int, str, int | None]]:
    """Create branches start..stop-1 with a mix of held and missed meetings; return what's due.

    At 2026-11-20 only overdue requirements are due (10+ days left everywhere): every third
    branch missed October's committee meeting, every fifth has a party group that never met.
    """
    expected: set[tuple[int, str, int | None]] = set()
    with db.atomic():
        for i in range(start, stop):
            br = old_branch(f"支部{i:03d}", comm)
            meet(br, "theme_day", sh(2026, 10, 10, 9))
            meet(br, "general", sh(2026, 8, 10, 9))
            meet(br, "lesson", sh(2026, 9, 10, 9))
            meet(br, "life_meeting", sh(2025, 12, 10, 9))
            meet(br, "appraisal", sh(2025, 12, 11, 9))
            if i % 3 == 0:
                expected.add((br.id, "committee", None))
            else:
                meet(br, "committee", sh(2026, 10, 12, 9))
            if i % 5 == 0:
                grp = f.group(br, f"党小组{i}")
                expected.add((br.id, "group", grp.id))
    return expected


def test_all_branches_due_runs_a_constant_number_of_queries(
    conn: None, settings: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    at = sh(2026, 11, 20, 10)
    comm = f.committee("第一党委")
    expected = _add_branches(comm, 0, 3)
    with counting_queries(monkeypatch) as seen:
        due = all_branches_due(at, settings)
    few = len(seen)
    assert {(r.branch_id, r.kind, r.group_id) for r in due} == expected
    assert all(r.status == "overdue" for r in due)

    expected |= _add_branches(comm, 3, 30)
    assert Branch.select().count() == 30
    with counting_queries(monkeypatch) as seen:
        due = all_branches_due(at, settings)
    assert len(seen) == few == 3
    assert {(r.branch_id, r.kind, r.group_id) for r in due} == expected

    other = f.committee("第二党委")
    lonely = old_branch("其他党委支部", other)
    with counting_queries(monkeypatch) as seen:
        only = all_branches_due(at, settings, committee_id=other.id)
    assert len(seen) == 3
    assert {r.branch_id for r in only} == {lonely.id}
    assert {r.kind for r in only} == {
        "general",
        "committee",
        "lesson",
        "theme_day",
        "life_meeting",
        "appraisal",
    }
    mine = all_branches_due(at, settings, committee_id=comm.id)
    assert {(r.branch_id, r.kind, r.group_id) for r in mine} == expected

    with counting_queries(monkeypatch) as seen:
        branch_calendar(lonely.id, at, settings, scope="quarter")
    assert len(seen) == 3


# ---- the text -------------------------------------------------------------------------------


def test_render_this_month(conn: None, settings: dict[str, dict[str, Any]]) -> None:
    at = sh(2026, 11, 20, 10)
    br = old_branch("第一党支部")
    grp = f.group(br, "第一党小组")
    meet(br, "committee", sh(2026, 10, 9, 15))
    meet(br, "committee", sh(2026, 11, 5, 15))
    meet(br, "theme_day", sh(2026, 10, 9, 15))
    meet(br, "theme_day", sh(2026, 11, 25, 15))
    meet(br, "general", sh(2026, 9, 9, 15))
    meet(br, "general", sh(2026, 10, 9, 15))
    text = render_calendar(br.name, branch_calendar(br.id, at, settings), "month", SH)
    lines = text.splitlines()
    assert lines[0] == "第一党支部本月组织生活（截至11月20日）"
    heads = [lines.index(h) for h in ("【2026年11月】", "【2026年第4季度】", "【2026年】")]
    assert heads == sorted(heads)
    assert "✅ 支部委员会会议：已召开 1 次，已完成 ✓" in lines
    assert (
        "🗓 主题党日：已召开 0 次，已安排 1 次（最近 11月25日（周三）15:00），还剩 10 天" in lines
    )
    assert "❗ 党小组会（第一党小组）：已召开 0 次，还剩 10 天，尚未安排" in lines
    note = lines.index("    上期未开：2026年10月没有召开党小组会")
    assert lines[note - 1].startswith("❗ 党小组会")
    assert "✅ 支部党员大会：已召开 1 次，已完成 ✓" in lines
    assert "    上期未开：2026年第3季度没有召开党课" in lines
    assert "❗ 组织生活会：已召开 0 次，还剩 41 天，尚未安排" in lines
    assert lines[-1].startswith("请抓紧落实：") and "党小组会（第一党小组）" in lines[-1]
    assert "主题党日" not in lines[-1]
    assert grp.id == pick(branch_calendar(br.id, at, settings), "group", grp.id).group_id


def test_render_last_day_says_today(conn: None, settings: dict[str, dict[str, Any]]) -> None:
    br = old_branch("第一党支部")
    meet(br, "committee", sh(2026, 10, 9, 15))
    text = render_calendar(
        br.name, branch_calendar(br.id, sh(2026, 11, 30, 9), settings), "month", SH
    )
    assert "⏰ 支部委员会会议：已召开 0 次，今天截止，尚未安排" in text.splitlines()


def test_render_this_quarter(conn: None, settings: dict[str, dict[str, Any]]) -> None:
    br = old_branch("第一党支部")
    meet(br, "committee", sh(2026, 10, 9, 15))
    meet(br, "committee", sh(2026, 12, 20, 15))  # November missed, December planned
    meet(br, "theme_day", sh(2026, 10, 9, 15))
    meet(br, "theme_day", sh(2026, 11, 9, 15))
    meet(br, "theme_day", sh(2026, 12, 3, 15))
    meet(br, "lesson", sh(2026, 11, 9, 15))
    at = sh(2026, 12, 10, 10)
    reqs = branch_calendar(br.id, at, settings, scope="quarter")
    assert len([r for r in reqs if r.kind == "committee"]) == 3
    lines = render_calendar(br.name, reqs, "quarter", SH).splitlines()
    assert lines[0] == "第一党支部本季度组织生活（截至12月10日）"
    assert "【2026年12月】" not in lines
    assert lines.index("【2026年第4季度】") < lines.index("【2026年】")
    assert "✅ 党课：已召开 1 次，已完成 ✓" in lines
    months = lines.index("【2026年第4季度各月（按月要求的会议）】")
    assert months > lines.index("【2026年】")
    assert (
        "支部委员会会议：10月 ✓1次 · 11月 ✗未开 · 12月 还剩 21 天（已安排1次）" in lines[months:]
    )
    assert "主题党日：10月 ✓1次 · 11月 ✓1次 · 12月 ✓1次" in lines[months:]
    # The month view of the same requirements shows only December.
    month_view = render_calendar(br.name, reqs, "month", SH).splitlines()
    december = "❗ 支部委员会会议：已召开 0 次，已安排 1 次（最近 12月20日（周日）15:00），"
    assert december + "还剩 21 天" in month_view
    assert "    上期未开：2026年11月没有召开支部委员会会议" in month_view


def test_render_quarter_before_and_after(conn: None, settings: dict[str, dict[str, Any]]) -> None:
    br = old_branch("新支部", since=sh(2026, 10, 15, 9))
    meet(br, "committee", sh(2026, 11, 5, 15))
    reqs = branch_calendar(br.id, sh(2026, 11, 20, 10), settings, scope="quarter")
    lines = render_calendar(br.name, reqs, "quarter", SH).splitlines()
    # October is before the branch joined the system; December has not begun.
    assert "支部委员会会议：10月 — · 11月 ✓1次 · 12月 未到" in lines
    assert "主题党日：10月 — · 11月 还剩 10 天 · 12月 未到" in lines
