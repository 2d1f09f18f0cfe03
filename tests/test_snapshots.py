"""Branch snapshots: the committee comparison's stored figures, the same as computed live, and
each branch's 学时 of the year, which the committee's people table reads from them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.console.committee import CommitteePeople, committee_people_page
from handlers.overview import committee_branches, committee_people
from handlers.snapshots import (
    committee_comparison,
    committee_snapshots,
    refresh_all,
    snapshot_training,
)
from handlers.study import record_study
from handlers.training import BranchTraining, add_training, committee_training
from models.org import Branch, Member
from models.snapshots import BranchSnapshot
from tests import factories as f
from tests.support.meetings import meet
from tests.support.queries import counting_queries

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=SH)


@pytest.fixture
def org(conn):
    committee = f.committee("示范党委")
    a, b = f.branch("第一党支部", committee), f.branch("第二党支部", committee)
    admin = f.member("管理员", a, roles="committee_admin")
    sec = f.member("书记", b, roles="secretary")
    people = [f.member(f"党员{n}", a if n % 2 else b) for n in range(6)]
    for person in people[:3]:
        f.assess(person, base_fen=500000, from_month=date(2026, 10, 1))
        record_study(person, "", now=NOW, tz=SH, max_chars=500)
    other = f.branch("外党委支部", f.committee("另一个党委"))
    f.member("外人", other)
    return {"a": a, "b": b, "admin": admin, "sec": sec, "other": other}


def test_the_stored_figures_are_the_live_ones(org, settings):
    view = committee_comparison(org["admin"], now=NOW, settings=settings)
    live = committee_branches(org["admin"], NOW, settings, limit=100, offset=0)
    assert [s.branch.id for s in view.rows] == [org["a"].id, org["b"].id]
    for snap, figures in zip(view.rows, live.branches, strict=True):
        assert snap.study_members == figures.study.members
        assert snap.study_participants == figures.study.participants
        assert snap.meetings_required == len(figures.meetings)
        assert snap.alert_count == figures.alerts.count
        expected = figures.dues.expected_fen if figures.dues else None
        assert snap.dues_expected_fen == expected
    assert view.as_of == date(2026, 11, 26) and view.month == date(2026, 11, 1)


def test_the_comparison_is_read_while_fresh_and_computed_again_when_stale(org, settings):
    first = committee_comparison(org["admin"], now=NOW, settings=settings)
    participants = {s.branch.id: s.study_participants for s in first.rows}
    record_study(org["sec"], "", now=NOW, tz=SH, max_chars=500)  # one more in branch b
    soon = committee_comparison(org["admin"], now=NOW + timedelta(minutes=29), settings=settings)
    assert {s.branch.id: s.study_participants for s in soon.rows} == participants
    assert soon.computed_at == NOW
    asked = committee_comparison(
        org["admin"], now=NOW + timedelta(minutes=5), settings=settings, refresh=True
    )
    assert asked.computed_at == NOW + timedelta(minutes=5)
    assert {s.branch.id: s.study_participants for s in asked.rows}[org["b"].id] == (
        participants[org["b"].id] + 1
    )
    later = committee_comparison(org["admin"], now=NOW + timedelta(minutes=40), settings=settings)
    assert later.computed_at == NOW + timedelta(minutes=40)


def test_the_job_stores_every_committee_and_only_admins_read_them(org, settings):
    from handlers.errors import Forbidden

    assert refresh_all(NOW, settings) == 3
    assert BranchSnapshot.select().count() == 3
    assert refresh_all(NOW, settings) == 3 and BranchSnapshot.select().count() == 3
    with pytest.raises(Forbidden):
        committee_comparison(org["sec"], now=NOW, settings=settings)


@pytest.fixture
def hours(org, settings):
    """学时 this year: a 3-hour lesson for everyone in branch a (4 party members), a 40-hour
    course for branch b's secretary (over the 32-hour bar), and last year's lesson in b."""
    a_members = list(Member.select().where(Member.branch == org["a"].id))
    b_members = list(Member.select().where(Member.branch == org["b"].id))
    meet(org["a"], "lesson", datetime(2026, 3, 10, 15, tzinfo=SH), 180, present=a_members)
    meet(org["b"], "lesson", datetime(2025, 12, 20, 15, tzinfo=SH), 180, present=b_members)
    add_training(
        org["sec"], org["b"].id, member_ids=[org["sec"].id], title="县委党校专题培训班",
        day=date(2026, 10, 15), minutes=2400, now=NOW, settings=settings,
    )  # fmt: skip
    return {"a": len(a_members), "b": len(b_members)}


def training(rows: list[BranchSnapshot]) -> dict[int, tuple[int, int, int, int]]:
    return {
        s.branch_id: (s.training_year, s.training_members, s.training_minutes, s.training_below)
        for s in rows
    }


def test_the_snapshot_holds_each_branchs_hours_of_the_year(org, hours, settings):
    rows = committee_snapshots(org["a"].committee_id, NOW, settings)
    assert training(rows) == {
        org["a"].id: (2026, hours["a"], 180 * hours["a"], hours["a"]),
        org["b"].id: (2026, hours["b"], 2400, hours["b"] - 1),
    }
    live = committee_training(org["a"].committee_id, NOW, settings)
    assert {s.branch_id: snapshot_training(s) for s in rows} == live


def test_the_people_table_reads_the_stored_hours_in_constant_statements(
    org, hours, settings, monkeypatch
):
    committee_comparison(org["admin"], now=NOW, settings=settings)  # the page stores them

    def table() -> tuple[int, CommitteePeople]:
        with counting_queries(monkeypatch) as seen:
            view = committee_people_page(org["admin"], now=NOW, settings=settings)
        assert not [sql for sql in seen if "attendance" in sql or "training_record" in sql]
        return len(seen), view

    few, view = table()
    assert [(r.name, r.people.training) for r in view.rows] == [
        ("第一党支部", BranchTraining(hours["a"], 180 * hours["a"], hours["a"])),
        ("第二党支部", BranchTraining(hours["b"], 2400, hours["b"] - 1)),
    ]
    assert view.today == date(2026, 11, 26)
    with counting_queries(monkeypatch) as live:
        ids = [r.branch_id for r in view.rows]
        list(Branch.select(Branch.id, Branch.name).where(Branch.id.in_(ids)))
        committee_people(org["a"].committee_id, ids, NOW, settings)
    assert few < len(live)  # the branches, 学时, make-up and volunteer service read live
    for n in range(5):
        f.member(f"书记{n}", f.branch(f"新支部{n}", org["a"].committee), roles="secretary")
    committee_comparison(org["admin"], now=NOW, settings=settings, refresh=True)
    more, view = table()
    assert more == few and len(view.rows) == 7


def test_a_stale_snapshot_is_computed_again_for_the_people_table(org, hours, settings):
    def minutes_b(at: datetime) -> int:
        view = committee_people_page(org["admin"], now=at, settings=settings)
        return {r.branch_id: r.people.training.minutes for r in view.rows}[org["b"].id]

    assert minutes_b(NOW) == 2400
    add_training(
        org["sec"], org["b"].id, member_ids=[org["sec"].id], title="专题党课",
        day=date(2026, 11, 20), minutes=120, now=NOW, settings=settings,
    )  # fmt: skip
    assert minutes_b(NOW + timedelta(minutes=29)) == 2400  # fresh: the stored figures
    assert minutes_b(NOW + timedelta(minutes=31)) == 2520  # stale: computed again
    # A snapshot stored before its 学时 were (year 0) is computed again at once.
    BranchSnapshot.update(training_year=0, training_minutes=0).execute()
    assert minutes_b(NOW + timedelta(minutes=32)) == 2520
    assert {s.training_year for s in BranchSnapshot.select()} == {2026}
