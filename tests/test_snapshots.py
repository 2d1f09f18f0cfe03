"""Branch snapshots: the committee comparison's stored figures, the same as computed live."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handlers.overview import committee_branches
from handlers.snapshots import committee_comparison, refresh_all
from handlers.study import record_study
from models.snapshots import BranchSnapshot
from tests import factories as f

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
